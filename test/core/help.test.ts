// tier: unit
// -h of every script against its settings table: each option and variable on
// its own line with its placeholder, descriptions in one column, no name
// running into its description.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type SettingSpec, settingName, truthy } from '../../lib/core/cli.ts';
import { rootfsSettings } from '../../lib/rootfs/settings.ts';
import { debootstrapSettings } from '../../lib/rootfs/debootstrap.ts';
import { main as rootfsMain } from '../../rootfs.ts';
import { imageSettings, main as imageMain } from '../../image.ts';
import { initrdSettings, main as initrdMain } from '../../initrd.ts';
import { bootSettings, main as bootMain } from '../../boot.ts';
import { runInProcess } from '../helpers/in-process.ts';

type Main = (argv: string[]) => Promise<void>;
const scripts: [string, Main, SettingSpec<unknown>[]][] = [
  ['rootfs.ts', rootfsMain, [...Object.values(rootfsSettings), ...Object.values(debootstrapSettings)] as SettingSpec<unknown>[]],
  ['image.ts', imageMain, Object.values(imageSettings) as SettingSpec<unknown>[]],
  ['initrd.ts', initrdMain, Object.values(initrdSettings) as SettingSpec<unknown>[]],
  ['boot.ts', bootMain, Object.values(bootSettings) as SettingSpec<unknown>[]],
];

/** `script -h` as its main() prints it, in this process. */
async function help(main: Main): Promise<{ stdout: string }> {
  const out = await runInProcess(() => main(['-h']));
  assert.is(out.exitCode, 0, out.stderr);
  return out;
}

for (const [script, main, specs] of scripts) {
  test(`${script} -h: one line per setting of its table, one description column`, async () => {
    const out = await help(main);
    const lines = out.stdout.split('\n');
    const columns = new Set<number>();
    for (const spec of specs) {
      const name = settingName(spec);
      if (spec.flag && spec.parse !== truthy) assert.match(name, /^-\S+ [A-Z_]+/, `${script}: ${name} shows a placeholder`);
      const line = lines.find((l) => l.startsWith(`  ${name} `));
      assert.ok(line, `${script} -h has a line for ${name}:\n${out.stdout}`);
      const desc = line!.slice(2 + name.length);
      assert.match(desc, /^ {2,}\S/, `${script}: "${name}" is followed by at least two spaces`);
      assert.ok(desc.trimStart().startsWith(spec.help), `${script}: ${name} is described as in the table`);
      columns.add(line!.length - desc.trimStart().length);
    }
    assert.is(columns.size, 1, `${script}: descriptions start in one column (${[...columns]})`);
    assert.not.match(out.stdout, /\x1b/);
  });
}

test('the glitches of issue 16 are gone', async () => {
  const rootfs = (await help(rootfsMain)).stdout;
  assert.match(rootfs, /\n {2}-o VERSION, OSBUILDER_VERSION {2,}osbuilder version/);
  const image = (await help(imageMain)).stdout;
  assert.match(image, /\n {2}-o IMAGE, IMAGE {2,}path of the image/);
});

test.run();
