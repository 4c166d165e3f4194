// tier: unit
// One command-line parser for every script: empty option values stay on their
// option (and are judged by name), unknown options and extra arguments are one
// ERROR each.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { parseCommandLine } from '../../lib/core/args.ts';
import { resolveSettings } from '../../lib/core/cli.ts';
import { imageSettings } from '../../image.ts';
import { main as initrdMain } from '../../initrd.ts';
import { runInProcess } from '../helpers/in-process.ts';
import { isBuildError } from '../helpers/errors.ts';
import { repoRoot } from '../helpers/rootfs-fixture.ts';

const one = { min: 0, max: 1, what: 'one rootfs directory or distro name' };

test("-o '' stays on -o, so the option's own check names it", () => {
  const opts = parseCommandLine(imageSettings, ['-o', '', '/some/rootfs'], one);
  assert.equal(opts._, ['/some/rootfs']);
  assert.is(opts.o, '');
  assert.is(resolveSettings({ image: imageSettings.image }, {}, opts).image, '');
});

test('unknown options, too many arguments, --help', () => {
  assert.throws(() => parseCommandLine(imageSettings, ['-Z', 'x'], one), isBuildError(/^unknown option -Z/));
  assert.throws(() => parseCommandLine(imageSettings, ['a', 'b'], one), isBuildError(/^too many arguments: a b; give one rootfs directory or distro name$/));
  assert.is(parseCommandLine(imageSettings, ['--help'], one).h, true);
});

test("image.ts and initrd.ts with -o '': one ERROR naming -o", async () => {
  // image.ts as its own process; initrd.ts's main() in this one (the same code path, without a tsx start-up).
  const runs = {
    'image.ts': () => $({ nothrow: true, cwd: repoRoot })`${repoRoot}node_modules/.bin/tsx image.ts -o ${''} /nonexistent-rootfs`,
    'initrd.ts': () => runInProcess(() => initrdMain(['-o', '', '/nonexistent-rootfs'])),
  };
  for (const [script, run] of Object.entries(runs)) {
    const out = await run();
    assert.is(out.exitCode, 1, script);
    const errors = out.stderr.split('\n').filter((l) => l.startsWith('ERROR:'));
    assert.is(errors.length, 1, out.stderr);
    assert.match(errors[0]!, /^ERROR: -o /, script);
  }
});

test.run();
