// Sizing that fits first time: a 10 GiB sparse file is sized by its
// allocated blocks (mke2fs -d and cp --sparse keep holes), and a tree of many
// small files gets its inodes (ext4: mke2fs -N) instead of dozens of growth
// rounds or ENOSPC. Also ext4 keeps mtimes after 2038-01-19 (the 256-byte
// inode's extra epoch bits).
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from '../../lib/core/exec.ts';
import { runImageTs } from '../helpers/image-fixture.ts';

const MiB = 1024 * 1024;
const work = mkdtempSync('/var/tmp/osbuilder-fit-');
test.after(() => rmSync(work, { recursive: true, force: true }));

function baseTree(name: string): string {
  const root = join(work, name);
  for (const d of ['sbin', 'etc']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'sbin/init'), '#!/bin/sh\n', { mode: 0o755 });
  return root;
}

const growthLines = (stderr: string) => stderr.split('\n').filter((l) => /needs more than|growing/.test(l));

test('a 10 GiB sparse file: ext4 and xfs images sized from its allocated blocks, holes kept, at most one growth step', async () => {
  const root = baseTree('sparse');
  const fd = openSync(join(root, 'big'), 'w');
  for (let i = 0; i < 8; i++) writeSync(fd, Buffer.alloc(MiB, 1), 0, MiB, i * 1280 * MiB); // 8 MiB of data across 10 GiB
  writeSync(fd, 'end', 10 * 1024 * MiB - 3);
  closeSync(fd);
  for (const fs of ['ext4', 'xfs'] as const) {
    const image = join(work, `sparse-${fs}.img`);
    const r = await runImageTs(['-f', fs, '-o', image, root], { AGENT_INIT: 'yes' });
    assert.is(r.exitCode, 0, r.stderr);
    assert.ok(growthLines(r.stderr).length <= 1, r.stderr);
    const size = statSync(image).size;
    assert.ok(size <= 512 * MiB, `${fs} image is ${size / MiB} MiB`);
    const mnt = mkdtempSync(join(work, 'mnt-'));
    await $`mount -o loop,ro,offset=${3 * MiB} ${image} ${mnt}`;
    try {
      const st = statSync(join(mnt, 'big'));
      assert.is(st.size, 10 * 1024 * MiB);
      assert.ok(st.blocks * 512 < 64 * MiB, `${fs}: holes kept (${st.blocks * 512} bytes allocated)`);
      const at = (off: number, len: number) => {
        const f = openSync(join(mnt, 'big'), 'r');
        const b = Buffer.alloc(len);
        readSync(f, b, 0, len, off);
        closeSync(f);
        return b;
      };
      assert.ok(at(7 * 1280 * MiB, MiB).equals(Buffer.alloc(MiB, 1)), 'data kept');
      assert.ok(at(1280 * MiB - MiB, MiB).equals(Buffer.alloc(MiB)), 'hole reads as zeros');
      assert.is(at(10 * 1024 * MiB - 3, 3).toString(), 'end');
    } finally {
      await $`umount ${mnt}`;
    }
  }
});

test('50k empty files: ext4 gets the inodes (mke2fs -N) and xfs fits, first time, no growth rounds', async () => {
  const root = baseTree('many');
  for (let d = 0; d < 50; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let f = 0; f < 1000; f++) writeFileSync(join(root, `d${d}/f${f}`), '');
  }
  for (const fs of ['ext4', 'xfs'] as const) {
    const image = join(work, `many-${fs}.img`);
    const r = await runImageTs(['-f', fs, '-o', image, root], { AGENT_INIT: 'yes' });
    assert.is(r.exitCode, 0, r.stderr);
    assert.ok(growthLines(r.stderr).length <= 1, r.stderr);
    if (fs === 'ext4') {
      const free = (await $`dumpe2fs -h ${`${image}?offset=${3 * MiB}`} 2>/dev/null`.nothrow()).stdout;
      const inodes = Number(/^Inode count:\s+(\d+)/m.exec(free)?.[1]);
      assert.ok(inodes >= 50_000 + 50 + 11, `inode count ${inodes}`);
      assert.is(statSync(image).size, 128 * MiB, 'the upstream size: the inodes come from -N, not from growing');
    }
  }
});

test('ext4 keeps mtimes after 2038-01-19 and before 1970', async () => {
  const root = baseTree('times');
  const times = { y2038: 2 ** 31, y2100: 4102444800, y2200: 7258118400, pre1970: -100000000 };
  for (const [n, t] of Object.entries(times)) {
    writeFileSync(join(root, n), n);
    await $`touch -h -d @${t} ${join(root, n)}`;
  }
  const image = join(work, 'times.img');
  const r = await runImageTs(['-f', 'ext4', '-o', image, root], { AGENT_INIT: 'yes' });
  assert.is(r.exitCode, 0, r.stderr);
  const mnt = mkdtempSync(join(work, 'mnt-'));
  await $`mount -o loop,ro,offset=${3 * MiB} ${image} ${mnt}`;
  try {
    for (const [n, t] of Object.entries(times)) assert.is(Number((await $`stat -c %Y ${join(mnt, n)}`).stdout), t, n);
  } finally {
    await $`umount ${mnt}`;
  }
});

test.run();
