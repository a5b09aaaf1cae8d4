import test from 'ava';
import {
  bootMarkerLine,
  MarkerScanner,
  MAX_MARKER_BYTES,
  mayBeMarkerStart,
  parseMarkerLine,
} from '../../src/store/markers.js';

/** Feeds `text` through one reused buffer of `size` bytes, as the seal and the reader do. */
function scanReused(text: Buffer, size: number): MarkerScanner {
  const scan = new MarkerScanner();
  const buf = Buffer.alloc(size);
  for (let pos = 0; pos < text.length; pos += size) {
    const n = text.copy(buf, 0, pos, pos + size);
    scan.feed(buf.subarray(0, n));
    buf.fill(0x78); // the caller's next read overwrites what the scanner may still refer to
  }
  return scan;
}

test('a marker line split across reads of a reused buffer is still found', (t) => {
  const marker = bootMarkerLine('0123456789abcdef', 'hosta', new Date('2026-01-01T00:00:00Z'));
  const text = Buffer.from('guest line\n' + marker + 'after\n');
  for (const size of [1, 7, 16, 40, 64, 1024]) {
    const scan = scanReused(text, size);
    t.deepEqual(
      scan.marks.map((m) => [m.offset, m.id, m.markerBytes]),
      [[11, '0123456789abcdef', marker.length]],
      `read size ${size}`,
    );
    t.is(scan.lines, 3);
  }
});

test('the follower holds back only what may still become a marker, and parses whole lines', (t) => {
  const line = Buffer.from(bootMarkerLine('abc', 'hosta', new Date('2026-01-01T00:00:00Z')));
  t.true(mayBeMarkerStart(line.subarray(0, 10)));
  t.true(mayBeMarkerStart(line.subarray(0, line.length - 1)));
  t.false(mayBeMarkerStart(Buffer.from('--- something else')));
  t.false(mayBeMarkerStart(Buffer.concat([line.subarray(0, 30), Buffer.alloc(MAX_MARKER_BYTES, 0x61)])));
  t.deepEqual(parseMarkerLine(line), { id: 'abc', host: 'hosta', at: '2026-01-01T00:00:00.000Z' });
  t.is(parseMarkerLine(line.subarray(0, line.length - 1)), undefined); // no newline yet
  t.is(parseMarkerLine(Buffer.from('guest says --- virt-consolelog boot=x host=y at=z ---\n')), undefined);
  const long = Buffer.from(`--- virt-consolelog boot=a host=${'h'.repeat(128)} at=${'t'.repeat(40)} ---\n`);
  t.true(long.length <= MAX_MARKER_BYTES);
  t.truthy(parseMarkerLine(long));
});
