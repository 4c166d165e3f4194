// sbom.ts IMAGE shows the SBOM beside an image only for the bytes it
// describes: an image changed after its SBOM was written (same size or not)
// gives one ERROR naming both sha256s; the .cdx.json itself is still readable.
import { appendFileSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stageOutputSbom } from '../../lib/sbom/output.ts';
import { runSbom, sha256Of } from '../helpers/sbom.ts';

const scratch = mkdtempSync('/var/tmp/osbuilder-sbom-check-test-');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const img = join(scratch, 'kata-containers.img');
const sbom = `${img}.cdx.json`;

test.before(async () => {
  const rootfs = join(scratch, 'rootfs');
  mkdirSync(join(rootfs, 'var/lib/dpkg'), { recursive: true });
  writeFileSync(join(rootfs, 'var/lib/dpkg/status'), 'Package: chrony\nStatus: install ok installed\nArchitecture: amd64\nVersion: 4.3-2\n\n');
  writeFileSync(img, randomBytes(1 << 20));
  const staged = await stageOutputSbom(rootfs, { output: img, file: img, kind: 'disk-image', epoch: 0 });
  staged.commit();
});

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('ERROR:'));

test('the SBOM of an unchanged image is shown, its sha256 checked', async () => {
  const out = await runSbom([img]);
  assert.is(out.exitCode, 0, out.stderr);
  assert.ok(out.stdout.includes(`sha256 ${sha256Of(img)} (the sha256 of ${img}, checked)`), out.stdout);
  assert.match(out.stdout, /^chrony\s+4\.3-2\s+amd64/m);
});

test('an image whose bytes changed after its SBOM (same size, or grown): one ERROR, no package list', async () => {
  const recorded = sha256Of(img);
  const fd = openSync(img, 'r+');
  writeSync(fd, Buffer.from([0x42]), 0, 1, 4096);
  closeSync(fd);
  const edited = await runSbom([img]);
  assert.is(edited.exitCode, 1);
  assert.is(edited.stdout, '', 'nothing of the other image is shown');
  assert.equal(errorLines(edited.stderr), [
    `ERROR: ${sbom} describes another image than ${img}: it records sha256 ${recorded} (1048576 bytes), the file is ${sha256Of(img)} (1048576 bytes) (changed or replaced after the SBOM was written); rebuild it with image.ts or initrd.ts, or give ${sbom} itself to read that SBOM anyway`,
  ]);
  appendFileSync(img, 'more');
  const grown = await runSbom([img]);
  assert.is(grown.exitCode, 1);
  assert.match(errorLines(grown.stderr)[0]!, /describes another image than .*: it records sha256 [0-9a-f]{64} \(1048576 bytes\), the file is 1048580 bytes \(changed/);
  const diff = await runSbom([sbom, '--diff', img]);
  assert.is(diff.exitCode, 1, '--diff checks its images too');
  assert.is(errorLines(diff.stderr).length, 1);
  const itself = await runSbom([sbom]);
  assert.is(itself.exitCode, 0, itself.stderr);
  assert.match(itself.stdout, /^chrony\s+4\.3-2/m);
});

test.run();
