// tier: unit
// The guest console as text: UTF-8 split across chunks, CRLF, escape codes,
// and the one-line PASS/FAIL verdict.
import { resolveSettings } from '../../lib/core/cli.ts';
import { outputSettings } from '../../lib/core/shared-settings.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConsoleDecoder, EscapeStripper, colourAllowed, stripEscapes } from '../../lib/boot/console.ts';
import { bootVerdict, failureReason, noiseNotes } from '../../lib/boot/verdict.ts';
import { PRUNED_SYSTEMD_UNITS } from '../../lib/core/systemd-prune.ts';

test('a multi-byte character split across chunks comes out whole', () => {
  // systemd prints "cryptsetup.target" behind a U+25CF; '…' and '€' are 3 bytes, '😀' 4.
  const line = Buffer.from('● cryptsetup…get € 😀 done\r\n');
  for (let cut = 1; cut < line.length; cut++) {
    const d = new ConsoleDecoder();
    const text = d.push(line.subarray(0, cut)) + d.push(line.subarray(cut)) + d.end();
    assert.is(text, '● cryptsetup…get € 😀 done\n', `cut at byte ${cut}`);
    assert.not.match(text, /\uFFFD/);
  }
  // One byte at a time.
  const d = new ConsoleDecoder();
  let text = '';
  for (const b of line) text += d.push(Buffer.from([b]));
  assert.is(text + d.end(), '● cryptsetup…get € 😀 done\n');
});

test('chunk.toString() on the same split would have broken the character (what the decoder fixes)', () => {
  const bytes = Buffer.from('a●b');
  assert.match(bytes.subarray(0, 2).toString() + bytes.subarray(2).toString(), /\uFFFD/);
});

test('CRLF becomes LF, also when CR and LF arrive in different chunks; no line is lost', () => {
  const d = new ConsoleDecoder();
  const parts = ['[    1.234567] line one\r', '\n[    1.2345', '68] line two\r\n', 'tail'];
  const text = parts.map((p) => d.push(Buffer.from(p))).join('') + d.end();
  assert.is(text, '[    1.234567] line one\n[    1.234568] line two\ntail');
  assert.is(new ConsoleDecoder().push(Buffer.from('redraw\rdone\r\n')), 'redraw\ndone\n');
  // systemd starts each status line with a CR: no blank line for it, also across chunks.
  const status = new ConsoleDecoder();
  const shown = ['[ 54.7] systemd[1]: Started x.\r\n', '\r[  OK  ] Started x.\r\n', '\r', '[  OK  ] Reached y.\r\n'].map((c) => status.push(Buffer.from(c))).join('') + status.end();
  assert.is(shown, '[ 54.7] systemd[1]: Started x.\n[  OK  ] Started x.\n[  OK  ] Reached y.\n');
  const end = new ConsoleDecoder();
  assert.is(end.push(Buffer.from('last\r')) + end.end(), 'last\n', 'a held CR is flushed at the end');
});

test('escape codes are stripped: systemd colours, cursor moves, titles', () => {
  const raw = '[\x1b[0;1;31mFAILED\x1b[0m] Failed to listen on \x1b[0;1;39mJournal Audit Socket\x1b[0m.\x1b[K\x1b]0;title\x07 ok';
  assert.is(stripEscapes(raw), '[FAILED] Failed to listen on Journal Audit Socket. ok');
  assert.not.match(stripEscapes(raw), /\x1b/);
});

test('an escape sequence split across chunks is stripped whole', () => {
  const raw = '[\x1b[0;1;31mFAILED\x1b[0m] x\n\x1b[0;32m  OK  \x1b[0m';
  for (let cut = 1; cut < raw.length; cut++) {
    const s = new EscapeStripper();
    const text = s.push(raw.slice(0, cut)) + s.push(raw.slice(cut)) + s.end();
    assert.is(text, '[FAILED] x\n  OK  ', `cut at ${cut}`);
  }
  const lone = new EscapeStripper();
  assert.is(lone.push('a\x1b') + lone.push('x'.repeat(70)) + lone.end(), `a${'x'.repeat(70)}`, 'a stray ESC is not held forever');
});

test('colour only on a terminal without NO_COLOR', () => {
  const form = (env: NodeJS.ProcessEnv) => resolveSettings(outputSettings, env);
  assert.ok(colourAllowed({ isTTY: true }, form({})));
  assert.not.ok(colourAllowed({ isTTY: true }, form({ NO_COLOR: '1' })));
  assert.not.ok(colourAllowed({ isTTY: false }, form({})));
  assert.not.ok(colourAllowed({}, form({})));
  assert.not.ok(colourAllowed({ isTTY: true }, form({ TERM: 'dumb' })));
});

test('verdict: PASS with the time, FAIL with the reason', () => {
  assert.match(bootVerdict({ markerSeen: true, seconds: 3.21 }, 'M'), /^PASS: the agent came up 3\.2 s after QEMU started/);
  const base = { timedOut: false, exitCode: 0, stderr: '', timeoutSeconds: 60 };
  assert.is(failureReason({ ...base, fatalLine: 'You are in emergency mode.' }), 'the guest failed: "You are in emergency mode."');
  assert.match(failureReason({ ...base, timedOut: true, exitCode: null }), /no marker within 60 s/);
  assert.is(failureReason({ ...base, exitCode: 1, stderr: 'warn\nqemu: could not load kernel' }), 'QEMU exited with code 1: qemu: could not load kernel');
  assert.match(failureReason(base), /powered off without printing the marker/);
  assert.match(bootVerdict({ markerSeen: false, seconds: 9, reason: 'x y' }, 'M'), /^FAIL: x y$/);
});

test('known-harmless guest noise is explained once', () => {
  const console = 'a\nFailed to connect stdout to the journal socket, ignoring: No such file\nFailed to connect stdout to the journal socket, ignoring\n';
  const notes = noiseNotes(console);
  assert.is(notes.length, 1);
  assert.match(notes[0]!, /harmless: rootfs.ts -d leaves out systemd-journald/);
  assert.equal(noiseNotes('clean boot\n'), []);
  // The failing Journal Audit Socket is fixed in the guest instead: pruned with journald.
  assert.ok(PRUNED_SYSTEMD_UNITS.includes('systemd-journald-audit'));
});

test.run();
