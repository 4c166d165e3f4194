// What the Debian-family builder does to a freshly bootstrapped tree, as
// upstream's Ubuntu builder (which its Debian builder re-uses) does:
// var/run -> /run, the build host's CA bundle, documentation and locale data
// removed, the device nodes an agent that is init needs before devtmpfs
// (as a table the packers write into the image: lib/core/device-nodes.ts).
import { existsSync, readdirSync } from 'node:fs';
import { DEVICE_NODE_TABLE, deviceNodeTableText, type DeviceNode } from '../core/device-nodes.ts';
import { guestTree, type GuestTree } from '../core/guest-tree.ts';
import { info, warn } from '../core/log.ts';

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

/**
 * The nodes of upstream's `MAKEDEV console tty ttyS null zero`, root's; devtmpfs gives the rest at boot.
 * Not made in the tree (a user namespace cannot): the packers add them from DEVICE_NODE_TABLE.
 */
export const DEVICE_NODES: DeviceNode[] = [
  ['console', 5, 1, 0o600] as const,
  ['tty', 5, 0, 0o666] as const,
  ...[0, 1, 2, 3, 4].map((n) => [`ttyS${n}`, 4, 64 + n, 0o660] as const),
  ['null', 1, 3, 0o666] as const,
  ['zero', 1, 5, 0o666] as const,
].map(([name, major, minor, perm]) => ({ rel: `dev/${name}`, type: 'char', major, minor, perm, uid: 0, gid: 0 }));

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

/**
 * dev/ as the guest gets it, whoever builds: what the bootstrap tool left
 * there removed (mmdebstrap as root leaves its nodes and links, in a user
 * namespace none), the fd links, and the table of nodes for the packers.
 */
async function finishDev(tree: GuestTree): Promise<void> {
  const dir = tree.mkdir('dev');
  const left = existsSync(dir) ? readdirSync(dir) : []; // none when planning
  if (left.length) await tree.remove(...left.map((name) => `dev/${name}`));
  for (const [name, target] of FD_LINKS) tree.symlink(target, `dev/${name}`);
  tree.write(DEVICE_NODE_TABLE, deviceNodeTableText(DEVICE_NODES), { mode: 0o644, uid: 0, gid: 0 });
}

/** Everything upstream's builder does to the tree after the bootstrap; `caBundles`: for tests. */
export async function finishDebianTree(root: string, caBundles = HOST_CA_BUNDLES): Promise<void> {
  const tree = guestTree(root);
  await linkVarRun(tree);
  await copyHostCaBundle(tree, caBundles);
  info('Removing documentation and locale data');
  await tree.remove(...UNNEEDED_SHARE_DIRS.map((d) => `usr/share/${d}`));
  await finishDev(tree);
}
