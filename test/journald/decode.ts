// Test helper: journald's native format read back, to check what the encoder and the sink send.

/** A reader of the native format as journald parses it (journald-native.c), to check the encoder against. */
export function decode(entry: Buffer): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  let p = 0;
  while (p < entry.length) {
    const nl = entry.indexOf(0x0a, p);
    const head = entry.subarray(p, nl).toString('latin1');
    const eq = head.indexOf('=');
    if (eq >= 0) {
      out.push([head.slice(0, eq), entry.subarray(p + eq + 1, nl)]);
      p = nl + 1;
    } else {
      const len = Number(entry.readBigUInt64LE(nl + 1));
      out.push([head, entry.subarray(nl + 9, nl + 9 + len)]);
      if (entry[nl + 9 + len] !== 0x0a) throw new Error('binary field not followed by a newline');
      p = nl + 10 + len;
    }
  }
  return out;
}
