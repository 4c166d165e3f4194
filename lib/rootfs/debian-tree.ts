// What the Debian-family builder does to a freshly bootstrapped tree, as
// upstream's Ubuntu builder (which its Debian builder re-uses) does:
// var/run -> /run, the build host's CA bundle, documentation and locale data
// removed, the device nodes an agent that is init needs before devtmpfs.
import { existsSync } from 'node:fs';
import { $ } from '../core/exec.ts';
import { guestTree, type GuestTree } from '../core/guest-tree.ts';
import { info, warn } from '../core/log.ts';
import { insideUserNamespace } from '../core/userns.ts';

/** usr/share directories removed from the tree: upstream's list (time zones stay). */
export const UNNEEDED_SHARE_DIRS = [
  'bash-completion', 'bug', 'doc', 'info', 'lintian', 'locale', 'man', 'menu', 'misc', 'pixmaps', 'terminfo', 'zsh',
];

/**
 * Where the build host (or the build container) keeps its CA bundle, first
 * found wins: Debian, Ubuntu and Alpine's path (upstream's), then Fedora's.
 */
export const HOST_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];
export const TREE_CA_BUNDLE = 'etc/ssl/certs/ca-certificates.crt';
/** OpenSSL's default CA file, pointed at the bundle: it is copied in, not installed by the openssl package. */
export const OPENSSL_CERT_LINK = 'usr/lib/ssl/cert.pem';

/** The nodes of upstream's `MAKEDEV console tty ttyS null zero`; devtmpfs gives the rest at boot. */
export const DEVICE_NODES: [name: string, major: number, minor: number, mode: string][] = [
  ['console', 5, 1, '600'],
  ['tty', 5, 0, '666'],
  ...[0, 1, 2, 3, 4].map((n): [string, number, number, string] => [`ttyS${n}`, 4, 64 + n, '660']),
  ['null', 1, 3, '666'],
  ['zero', 1, 5, '666'],
];

/** `MAKEDEV fd`: the descriptor links, through /proc. */
export const FD_LINKS: [name: string, target: string][] = [
  ['fd', '/proc/self/fd'],
  ['stdin', 'fd/0'],
  ['stdout', 'fd/1'],
  ['stderr', 'fd/2'],
];


/** var/run -> /run: one run directory, the tmpfs systemd mounts. */
async function linkVarRun(tree: GuestTree): Promise<void> {
  if (tree.has('var/run')) await tree.remove('var/run');
  tree.symlink('/run', 'var/run');
}

/** The build host's CA bundle, so that TLS in the guest (and in a chroot of the tree) can verify servers. */
async function copyHostCaBundle(tree: GuestTree, candidates: string[]): Promise<void> {
  const bundle = candidates.find((f) => existsSync(f));
  if (!bundle) {
    warn(`no CA bundle on the build host (looked for ${candidates.join(', ')}): the tree gets no ${TREE_CA_BUNDLE}, so TLS in the guest cannot verify servers; install ca-certificates where the build runs`);
    return;
  }
  tree.copy(bundle, TREE_CA_BUNDLE, { mode: 0o644 });
  if (tree.has(OPENSSL_CERT_LINK)) await tree.remove(OPENSSL_CERT_LINK);
  tree.symlink('../../../etc/ssl/certs/ca-certificates.crt', OPENSSL_CERT_LINK);
}

async function makeDeviceNodes(tree: GuestTree, userNamespace: boolean): Promise<void> {
  tree.mkdir('dev');
  const missing = DEVICE_NODES.filter(([name]) => !tree.has(`dev/${name}`));
  if (userNamespace && missing.length) {
    warn(`no device nodes in the tree's dev/ (${missing.map(([n]) => n).join(' ')}): a user namespace (a rootless build, rootless podman) may not create them; ` +
      "the guest's devtmpfs provides them at boot, and the kernel's built-in initramfs its dev/console");
  } else {
    for (const [name, major, minor, mode] of missing) await $`mknod -m ${mode} ${tree.entry(`dev/${name}`)} c ${major} ${minor}`;
  }
  for (const [name, target] of FD_LINKS) if (!tree.has(`dev/${name}`)) tree.symlink(target, `dev/${name}`);
}

/** Everything upstream's builder does to the tree after the bootstrap; `caBundles`: for tests. */
export async function finishDebianTree(root: string, caBundles = HOST_CA_BUNDLES, userNamespace = insideUserNamespace()): Promise<void> {
  const tree = guestTree(root);
  await linkVarRun(tree);
  await copyHostCaBundle(tree, caBundles);
  info('Removing documentation and locale data');
  await tree.remove(...UNNEEDED_SHARE_DIRS.map((d) => `usr/share/${d}`));
  await makeDeviceNodes(tree, userNamespace);
}
