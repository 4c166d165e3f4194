// tier: unit
// Architecture errors of boot.ts: a kernel of another architecture than the
// guest's, -a contradicting the image, an unknown -a. Each is one ERROR line
// and exit 1 before QEMU starts. The guest is a tiny initrd whose summary
// file says aarch64; the kernel is Debian's x86_64 one.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { debianKernel } from '../../lib/boot/kernel.ts';
import { kernelArch, kernelArchOf, summaryArch } from '../../lib/boot/guest-arch.ts';
import { elfArch } from '../../lib/core/arch.ts';
import { $ } from '../../lib/core/exec.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';
import { runInProcess } from '../helpers/in-process.ts';
import { main as bootMain } from '../../boot.ts';

const work = mkdtempSync('/var/tmp/osbuilder-arch-errors-test-');
test.after(() => rmSync(work, { recursive: true, force: true }));
/** boot.ts as its own process (once: its exit and ERROR line as a user sees them) or its main() in this one. */
const boot = (args: string[]) => $({ nothrow: true, cwd: repoRoot })`${join(repoRoot, 'node_modules/.bin/tsx')} boot.ts ${args}`;
const bootInProcess = (args: string[]) => runInProcess(() => bootMain(args));

async function aarch64Initrd(): Promise<string> {
  const tree = join(work, 'tree');
  mkdirSync(join(tree, 'var/lib/osbuilder'), { recursive: true });
  mkdirSync(join(tree, 'sbin'), { recursive: true });
  writeFileSync(join(tree, 'var/lib/osbuilder/osbuilder.yaml'), '---\nosbuilder:\n  version: "t"\narchitecture: "aarch64"\n');
  writeFileSync(join(tree, 'sbin/init'), '');
  const out = join(work, 'initrd.img');
  await $({ cwd: tree })`find . | cpio -o -H newc --quiet | gzip > ${out}`;
  return out;
}

const oneError = (stderr: string, re: RegExp) => {
  const errors = stderr.split('\n').filter((l) => l.includes('ERROR:'));
  assert.is(errors.length, 1, stderr);
  assert.match(errors[0]!, re);
};

test('summary, ELF and kernel header architectures', () => {
  assert.is(summaryArch('architecture: "s390x"\n'), 's390x');
  assert.is(summaryArch('architecture: "mips"\n'), undefined);
  const elf = Buffer.alloc(64);
  elf.write('\x7fELF\x02\x01', 0, 'latin1');
  elf.writeUInt16LE(183, 18);
  assert.is(elfArch(elf), 'aarch64');
  assert.is(kernelArchOf(elf), 'aarch64');
  const s390 = Buffer.alloc(0x10010);
  s390.write('S390EP', 0x10008, 'latin1');
  assert.is(kernelArchOf(s390), 's390x');
  assert.is(kernelArchOf(Buffer.alloc(4096)), undefined);
});

test('a kernel of another architecture than the guest: one ERROR naming both', async () => {
  const kernel = (await debianKernel('x86_64')).vmlinuz;
  assert.is(kernelArch(kernel), 'x86_64');
  const r = await boot(['-k', kernel, await aarch64Initrd()]);
  assert.is(r.exitCode, 1);
  oneError(r.stderr, /is built for x86_64, but .* is a guest for aarch64: give a kernel for aarch64 with -k/);
});

test('-a contradicting the summary, and an unknown -a: one ERROR each', async () => {
  const initrd = await aarch64Initrd();
  const wrong = await bootInProcess(['-a', 's390x', initrd]);
  assert.is(wrong.exitCode, 1);
  oneError(wrong.stderr, /holds a guest for aarch64, not s390x: give -a aarch64/);
  const unknown = await bootInProcess(['-a', 'mips64', initrd]);
  assert.is(unknown.exitCode, 1);
  oneError(unknown.stderr, /-a=mips64 is not a supported architecture: use one of x86_64, aarch64, ppc64le, s390x/);
});

test.run();
