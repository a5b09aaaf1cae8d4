// Guest bytes made harmless for a terminal, as journalctl and `less -R` do: SGR colour sequences
// (ESC [ digits ; : m) and valid printable UTF-8 pass; every other escape or control byte (OSC
// title, CSI clear screen or cursor moves, DCS, C1, a bare CR, invalid UTF-8, bidi overrides) is
// shown as visible text, \xNN or \u{NNNN}. Pure: the caller carries `held` from chunk to chunk.

export interface SanitizeResult {
  /** Safe bytes to print. */
  out: Buffer;
  /** An unfinished SGR or UTF-8 sequence at the end: pass it in front of the next chunk. */
  held: Buffer;
}

/** Longest SGR sequence kept whole; longer ones are shown escaped. */
const MAX_SGR = 64;

const hex = (b: number) => `\\x${b.toString(16).padStart(2, '0')}`;

/** Code points printable as themselves, but that reorder text (Trojan Source) or are C1 controls. */
function dangerousCodePoint(cp: number): boolean {
  return (
    (cp >= 0x80 && cp <= 0x9f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x200e ||
    cp === 0x200f ||
    cp === 0x061c
  );
}

/** Length of a valid UTF-8 sequence at i, 0 if invalid, -1 if cut short by the end of buf. */
function utf8Length(buf: Buffer, i: number): number {
  const b = buf[i] as number;
  const n = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (!n) return 0;
  for (let k = 1; k < n; k++) {
    const c = buf[i + k];
    if (c === undefined) return -1;
    if ((c & 0xc0) !== 0x80) return 0;
    // Overlong forms, surrogates and code points above U+10FFFF.
    if (k === 1) {
      if (b === 0xe0 && c < 0xa0) return 0;
      if (b === 0xed && c > 0x9f) return 0;
      if (b === 0xf0 && c < 0x90) return 0;
      if (b === 0xf4 && c > 0x8f) return 0;
    }
  }
  return n;
}

/** Length of an SGR sequence at i (ESC [ params m), 0 if it is not one, -1 if cut short. */
function sgrLength(buf: Buffer, i: number): number {
  if (buf[i + 1] === undefined) return -1;
  if (buf[i + 1] !== 0x5b) return 0;
  for (let k = i + 2; k < buf.length && k - i < MAX_SGR; k++) {
    const c = buf[k] as number;
    if (c === 0x6d) return k - i + 1;
    if (!((c >= 0x30 && c <= 0x39) || c === 0x3b || c === 0x3a)) return 0;
  }
  return buf.length - i < MAX_SGR ? -1 : 0;
}

/**
 * Sanitises `chunk` (after `held` of the previous call). `final` = no more input: nothing is held
 * back, an unfinished sequence is shown escaped.
 */
export function sanitizeForTerminal(
  chunk: Buffer,
  held: Buffer = Buffer.alloc(0),
  final = false,
): SanitizeResult {
  const buf = held.length ? Buffer.concat([held, chunk]) : chunk;
  const parts: (Buffer | string)[] = [];
  let runStart = 0;
  const flushRun = (end: number) => {
    if (end > runStart) parts.push(buf.subarray(runStart, end));
  };
  let i = 0;
  while (i < buf.length) {
    const b = buf[i] as number;
    if ((b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x09) {
      i++;
      continue;
    }
    if (b === 0x0d && buf[i + 1] === 0x0a) {
      i += 2;
      continue;
    }
    if (b === 0x0d && i + 1 === buf.length && !final) {
      flushRun(i);
      return { out: join(parts), held: Buffer.from(buf.subarray(i)) };
    }
    if (b === 0x1b) {
      const n = sgrLength(buf, i);
      if (n > 0) {
        i += n;
        continue;
      }
      if (n < 0 && !final) {
        flushRun(i);
        return { out: join(parts), held: Buffer.from(buf.subarray(i)) };
      }
    } else if (b >= 0x80) {
      const n = utf8Length(buf, i);
      if (n < 0 && !final) {
        flushRun(i);
        return { out: join(parts), held: Buffer.from(buf.subarray(i)) };
      }
      if (n > 0) {
        const cp = buf
          .subarray(i, i + n)
          .toString('utf8')
          .codePointAt(0) as number;
        if (!dangerousCodePoint(cp)) {
          i += n;
          continue;
        }
        flushRun(i);
        parts.push(`\\u{${cp.toString(16)}}`);
        i += n;
        runStart = i;
        continue;
      }
    }
    // Shown, not obeyed: the ESC (the rest of its sequence is printable text), a control byte, a
    // byte of invalid UTF-8.
    flushRun(i);
    parts.push(hex(b));
    i++;
    runStart = i;
  }
  flushRun(buf.length);
  return { out: join(parts), held: Buffer.alloc(0) };
}

function join(parts: (Buffer | string)[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
}

/** A stateful wrapper for a stream of chunks. */
export class TerminalSanitizer {
  private held: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): Buffer {
    const r = sanitizeForTerminal(chunk, this.held);
    this.held = r.held;
    return r.out;
  }

  /** What is held back, shown escaped (end of output, or a prompt left without a newline). */
  flush(): Buffer {
    const r = sanitizeForTerminal(Buffer.alloc(0), this.held, true);
    this.held = Buffer.alloc(0);
    return r.out;
  }
}
