// Values for a message, one line whatever they hold.

/** A path held as bytes: printable ASCII as is, every other byte (not-UTF-8 names, newlines, backslashes) as \xNN; long paths shortened. */
export function showPath(rel: Buffer): string {
  let s = '';
  for (const c of rel) s += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return s.length > 160 ? `${s.slice(0, 80)}...${s.slice(-60)} (${rel.length} bytes)` : s;
}

/** A message on one line: a newline, tab or other control character a value brought in shows escaped (\n, \t, \xNN), not cut at. */
export function showText(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
