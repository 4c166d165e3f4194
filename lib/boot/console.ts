// The guest's serial console as text. QEMU hands over bytes in arbitrary
// chunks, so a UTF-8 character can straddle two chunks: decode as a stream.
// The guest writes CRLF line ends and, from systemd, colour codes; logs get
// plain LF lines (and no escape codes unless the reader is a colour terminal).
import { StringDecoder } from 'node:string_decoder';

/** CSI sequences (colours, cursor moves), OSC sequences (window titles), two-byte escapes. */
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

export function stripEscapes(text: string): string {
  // A stray ESC (a broken sequence) goes too: a log has no use for it.
  return text.replace(ESCAPES, '').replaceAll('\x1b', '');
}

const WHOLE_ESCAPE_AT_START = new RegExp(`^(?:${ESCAPES.source})`);
/** Longer than any escape sequence a console sends: flushed rather than held. */
const MAX_ESCAPE = 64;

/** stripEscapes() for text that arrives in pieces: a sequence may straddle two. */
export class EscapeStripper {
  private held = '';

  push(text: string): string {
    text = this.held + text;
    this.held = '';
    const last = text.lastIndexOf('\x1b');
    if (last >= 0 && text.length - last < MAX_ESCAPE && !WHOLE_ESCAPE_AT_START.test(text.slice(last))) {
      this.held = text.slice(last);
      text = text.slice(0, last);
    }
    return stripEscapes(text);
  }

  end(): string {
    const rest = stripEscapes(this.held);
    this.held = '';
    return rest;
  }
}

/**
 * Incremental console decoder: `push` returns the text that is complete so
 * far (never half a character; a trailing CR is held until the next chunk
 * shows whether an LF follows), `end` returns the rest.
 */
export class ConsoleDecoder {
  private readonly utf8 = new StringDecoder('utf8');
  private heldCr = false;
  private atLineStart = true;

  push(chunk: Buffer): string {
    return this.normalise(this.utf8.write(chunk), false);
  }

  end(): string {
    return this.normalise(this.utf8.end(), true);
  }

  private normalise(text: string, final: boolean): string {
    if (this.heldCr) text = `\r${text}`;
    this.heldCr = !final && text.endsWith('\r');
    if (this.heldCr) text = text.slice(0, -1);
    // CRLF ends a line; a CR at the start of a line (systemd's status
    // redraws) is dropped; one inside a line ends it, so no text is lost.
    let out = text.replace(/\r\n/g, '\n').replace(/(^|\n)\r+/g, (_m, nl: string, offset: number) =>
      offset === 0 && !this.atLineStart ? '\n' : nl);
    out = out.replace(/\r+/g, '\n');
    if (out) this.atLineStart = out.endsWith('\n');
    return out;
  }
}

/** Whether colour may be written to this stream: a terminal, no NO_COLOR and no TERM=dumb (the resolved outputSettings). */
export function colourAllowed(stream: { isTTY?: boolean }, s: { noColor: string; term: string }): boolean {
  return !!stream.isTTY && !s.noColor && s.term !== 'dumb';
}
