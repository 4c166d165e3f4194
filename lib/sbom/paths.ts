// Where SBOMs live: inside the rootfs next to the summary file, and beside an image or initrd.
export const ROOTFS_SBOM_PATH = 'var/lib/osbuilder/sbom.cdx.json';

export const outputSbomPath = (output: string) => `${output}.cdx.json`;
