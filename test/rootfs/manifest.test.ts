// tier: unit
// The rootfs build manifest (pure): what goes in, what counts as changed, and
// how a stored manifest is read back.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dropOrphanManifests, sourceClosure, storeManifest, treeHash } from '../../lib/rootfs/cache.ts';
import {
  UNKNOWN, changedInputs, describeInputs, distroStageChanges, distroStageKey, manifestFor, manifestPath, manifestText, parseManifest, type RootfsInputs,
} from '../../lib/rootfs/manifest.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

const base: RootfsInputs = {
  distro: 'fedora', osVersion: '42', repoUrl: 'file:///repo', packages: ['iptables', 'chrony'], extraPackages: [],
  agentInit: 'no', seccomp: 'no', libc: 'musl', arch: 'x86_64', deleteUnits: true, agentBin: 'kata-agent',
  osbuilderVersion: '1.0', sourceDateEpoch: undefined, distroRepo: false, pkgManager: '', dnfConf: '', aptKeyring: '', buildIn: 'host',
  distroSettings: { DEBIAN_BOOTSTRAP: 'mmdebstrap' }, kernelModules: '', agent: { AGENT_SOURCE_BIN: 'aa' },
  builderFiles: { 'rootfs.ts': '11' }, distroFiles: { 'rootfs/fedora/config.ts': '22' },
};

test('same inputs: nothing changed, whatever the order of packages or keys', () => {
  const a = manifestFor(base);
  const b = manifestFor({ ...base, packages: ['chrony', 'iptables'], distroFiles: { 'rootfs/fedora/config.ts': '22' } });
  assert.equal(changedInputs(a, b), []);
  assert.is(manifestText(a), manifestText(b));
});

test('each changed input is named: settings, agent, distro settings, source files', () => {
  const a = manifestFor(base);
  const b = manifestFor({
    ...base, extraPackages: ['vim'], agent: { AGENT_SOURCE_BIN: 'bb' }, distroSettings: { DEBIAN_BOOTSTRAP: 'debootstrap' },
    distroFiles: { 'rootfs/fedora/config.ts': '33' }, deleteUnits: false,
  });
  assert.equal(changedInputs(a, b), ['-d', 'AGENT_SOURCE_BIN', 'DEBIAN_BOOTSTRAP', 'EXTRA_PKGS', 'source rootfs/fedora/config.ts']);
});

test('an input present on one side only counts as changed (agent binary -> tarball; new source file)', () => {
  const a = manifestFor(base);
  const b = manifestFor({ ...base, agent: { AGENT_TARBALL: 'cc' }, builderFiles: { ...base.builderFiles, 'lib/new.ts': '44' } });
  assert.equal(changedInputs(a, b), ['AGENT_SOURCE_BIN', 'AGENT_TARBALL', 'source lib/new.ts']);
});

test('an unknown input (agent tree outside git) never matches, not even itself', () => {
  const a = manifestFor({ ...base, agent: { 'agent source': UNKNOWN } });
  assert.equal(changedInputs(a, a), ['agent source']);
});

test('SOURCE_DATE_EPOCH set vs unset differ', () => {
  assert.equal(changedInputs(manifestFor(base), manifestFor({ ...base, sourceDateEpoch: 0 })), ['SOURCE_DATE_EPOCH']);
});

test('two stages: the distro stage key follows distro inputs only', () => {
  const key = distroStageKey(manifestFor(base));
  assert.match(key!, /^[0-9a-f]{32}$/);
  const setupOnly = [
    { agent: { AGENT_SOURCE_BIN: 'bb' } }, { agentInit: 'yes' }, { libc: 'gnu' }, { deleteUnits: false }, { osbuilderVersion: '2.0' },
    { sourceDateEpoch: 5 }, { kernelModules: 'ff' }, { agentBin: 'other' }, { builderFiles: { 'rootfs.ts': '99' } },
  ] satisfies Partial<RootfsInputs>[];
  for (const change of setupOnly) assert.is(distroStageKey(manifestFor({ ...base, ...change })), key, JSON.stringify(change));
  const distro = [
    { osVersion: '43' }, { repoUrl: 'file:///other' }, { packages: ['chrony'] }, { extraPackages: ['vim'] }, { seccomp: 'yes' },
    { arch: 'aarch64' }, { buildIn: 'docker' }, { distroSettings: { DEBIAN_BOOTSTRAP: 'debootstrap' } },
    { distroFiles: { 'rootfs/fedora/config.ts': '33' } }, { distroRepo: true }, { pkgManager: 'yum' },
  ] satisfies Partial<RootfsInputs>[];
  for (const change of distro) assert.is.not(distroStageKey(manifestFor({ ...base, ...change })), key, JSON.stringify(change));
  const m = manifestFor(base);
  assert.equal(distroStageChanges(m, changedInputs(m, manifestFor({ ...base, extraPackages: ['vim'], agent: { AGENT_SOURCE_BIN: 'bb' } }))), ['EXTRA_PKGS']);
});

test('describeInputs shortens long lists', () => {
  assert.is(describeInputs(['A', 'B']), 'A, B');
  assert.is(describeInputs(['A', 'B', 'C', 'D'], 2), 'A, B and 2 more');
});

test('parseManifest reads back manifestText; damaged or foreign text gives undefined', () => {
  const m = manifestFor(base);
  assert.equal(parseManifest(manifestText(m)), m);
  for (const bad of ['', '{', '[]', '{"format":2,"inputs":{}}', '{"format":2,"inputs":{},"distroStage":[1]}', '{"format":1,"inputs":{}}', '{"format":1}', '{"format":1,"inputs":{"a":3}}']) {
    assert.is(parseManifest(bad), undefined, bad);
  }
});

test('manifestPath: a hidden file beside the rootfs, never inside it', () => {
  assert.is(manifestPath('/build/debian_rootfs'), '/build/.debian_rootfs.manifest.json');
});

test('storing a manifest drops those beside it whose trees are gone, and only ours', () => {
  const dir = mkdtempSync('/var/tmp/osbuilder-orphans-');
  try {
    const m = manifestFor(base);
    for (const name of ['tmp.gone', 'kept_rootfs', 'now_rootfs']) mkdirSync(join(dir, name));
    storeManifest(join(dir, 'tmp.gone'), m);
    storeManifest(join(dir, 'kept_rootfs'), m);
    rmSync(join(dir, 'tmp.gone'), { recursive: true }); // as kata-deploy's devkit build removes its mktemp -d tree
    // Not ours to remove: a foreign file under our name, a manifest naming another directory, a link.
    writeFileSync(join(dir, '.notes.manifest.json'), '{"mine": true}\n');
    writeFileSync(join(dir, '.other.manifest.json'), manifestText({ ...m, rootfs: 'elsewhere' }));
    symlinkSync(join(dir, '.kept_rootfs.manifest.json'), join(dir, '.link.manifest.json'));
    storeManifest(join(dir, 'now_rootfs'), m);
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.manifest.json')).sort(),
      ['.kept_rootfs.manifest.json', '.link.manifest.json', '.notes.manifest.json', '.now_rootfs.manifest.json', '.other.manifest.json']);
    assert.not.ok(existsSync(join(dir, '.tmp.gone.manifest.json')));
    assert.equal(dropOrphanManifests(join(dir, 'no-such-dir')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('treeHash covers contents, modes and link targets, not times or location', () => {
  const dir = mkdtempSync('/tmp/treehash-');
  try {
    const make = (name: string) => {
      const root = join(dir, name);
      mkdirSync(join(root, 'kernel/drivers'), { recursive: true });
      writeFileSync(join(root, 'kernel/drivers/a.ko'), 'A');
      symlinkSync('kernel', join(root, 'link'));
      return root;
    };
    const [a, b] = [make('a'), make('b')];
    assert.is(treeHash(a), treeHash(b));
    writeFileSync(join(b, 'kernel/drivers/a.ko'), 'B');
    assert.is.not(treeHash(a), treeHash(b));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sourceClosure follows relative imports from rootfs.ts and a distro config', () => {
  const files = sourceClosure(repoRoot, 'rootfs.ts', 'rootfs/debian/config.ts');
  for (const f of ['rootfs.ts', 'rootfs/debian/config.ts', 'lib/rootfs/cache.ts', 'lib/rootfs/distro-packages.ts', 'lib/rootfs/setup.ts']) {
    assert.ok(files.includes(f), f);
  }
  assert.not.ok(files.some((f) => f.startsWith('rootfs/fedora/')));
});

test.run();
