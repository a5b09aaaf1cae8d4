// Unit tests of the completeness checker (pure; no libvirt needed).
import test from 'ava';
import { checkHistory, parseSeqLine, summarise } from './checker.js';
import { bootChangesWithoutSeparator } from './store-common.js';

const line = (seq: number, boot = 'aaaaaaaa') => `seq=${String(seq).padStart(8, '0')} boot=${boot}\r\n`;
const lines = (from: number, to: number, boot = 'aaaaaaaa') => {
  let s = '';
  for (let i = from; i <= to; i++) s += line(i, boot);
  return s;
};

test('parseSeqLine accepts exactly a sequence line, with or without \\r', (t) => {
  t.deepEqual(parseSeqLine('seq=00000042 boot=0123abcd'), { seq: 42, boot: '0123abcd' });
  t.deepEqual(parseSeqLine('seq=00000042 boot=0123abcd\r'), { seq: 42, boot: '0123abcd' });
  t.is(parseSeqLine('xseq=00000042 boot=0123abcd'), undefined);
  t.is(parseSeqLine('seq=00000042 boot=0123abcdseq=00000043 boot=0123abcd'), undefined);
  t.is(parseSeqLine('seq=00000042 boot=0123ABCD'), undefined);
  t.is(parseSeqLine('--- virt-consolelog boot=x host=a at=t ---'), undefined);
});

test('a complete single boot', (t) => {
  const r = checkHistory(lines(0, 99));
  t.true(r.ok);
  t.is(r.boots.length, 1);
  const b = r.boots[0]!;
  t.like(b, { boot: 'aaaaaaaa', first: 0, last: 99, count: 100, distinct: 100, missing: 0, duplicates: 0 });
  t.deepEqual(b.gaps, []);
  t.true(b.complete);
  t.is(r.totals.distinct, 100);
});

test('several boots in order, with boot markers and separators ignored', (t) => {
  const text =
    '--- virt-consolelog boot=1 host=lab-a at=2026-01-01T00:00:00Z ---\n' +
    'SeaBIOS (version 1.16)\n' +
    lines(0, 9, 'aaaaaaaa') +
    '-- Boot 2 on lab-a at 2026-01-01T00:00:01Z --\n' +
    lines(0, 4, 'bbbbbbbb');
  const r = checkHistory(text);
  t.true(r.ok);
  t.deepEqual(
    r.boots.map((b) => [b.boot, b.first, b.last]),
    [
      ['aaaaaaaa', 0, 9],
      ['bbbbbbbb', 0, 4],
    ],
  );
  t.is(r.otherLines, 3);
  t.deepEqual(r.malformed, []);
});

test('a lost head (truncated file) is a gap from 0', (t) => {
  const r = checkHistory(lines(50, 60));
  t.false(r.ok);
  const b = r.boots[0]!;
  t.is(b.first, 50);
  t.deepEqual(b.gaps, [{ from: 0, to: 49 }]);
  t.is(b.missing, 50);
});

test('gaps in the middle are reported as inclusive ranges', (t) => {
  const r = checkHistory(lines(0, 10) + lines(20, 30) + lines(32, 40));
  const b = r.boots[0]!;
  t.deepEqual(b.gaps, [
    { from: 11, to: 19 },
    { from: 31, to: 31 },
  ]);
  t.is(b.missing, 10);
  t.false(b.complete);
  t.regex(summarise(r), /10 missing \[11-19,31\]/);
});

test('duplicates are counted, not mistaken for reordering', (t) => {
  const r = checkHistory(lines(0, 10) + lines(5, 20));
  const b = r.boots[0]!;
  t.is(b.duplicates, 6);
  t.is(b.reorderings, 0);
  t.is(b.missing, 0);
  t.is(b.distinct, 21);
  t.is(b.count, 27);
  t.false(r.ok);
});

test('reordering: a new value below the largest seen', (t) => {
  const r = checkHistory(lines(0, 5) + line(8) + line(6) + line(7) + lines(9, 10));
  const b = r.boots[0]!;
  t.is(b.reorderings, 2);
  t.is(b.duplicates, 0);
  t.is(b.missing, 0);
  t.false(b.complete);
});

test('boots interleaved: a boot coming back after another began', (t) => {
  const r = checkHistory(lines(0, 3, 'aaaaaaaa') + lines(0, 3, 'bbbbbbbb') + lines(4, 5, 'aaaaaaaa'));
  t.true(r.interleaved);
  t.false(r.ok);
  t.true(r.boots.every((b) => b.complete));
});

test('torn lines are malformed; an unterminated last line is the partial tail', (t) => {
  const text = lines(0, 3) + 'seq=00000004 boseq=00000005 boot=aaaaaaaa\r\n' + lines(6, 7) + 'seq=0000';
  const r = checkHistory(text);
  t.is(r.malformed.length, 1);
  t.is(r.partialTail, 'seq=0000');
  t.is(r.boots[0]!.missing, 2);
  t.false(r.ok);
});

test('empty history is not ok and has no boots', (t) => {
  const r = checkHistory('');
  t.false(r.ok);
  t.is(r.boots.length, 0);
  t.is(r.lines, 0);
  t.regex(summarise(r), /0 boots/);
});

test('large counters keep their value', (t) => {
  const r = checkHistory(line(99999998) + line(99999999));
  t.like(r.boots[0]!, { first: 99999998, last: 99999999, missing: 99999998 });
});

test('bootChangesWithoutSeparator: a boot change needs a separator; torn fragments of one boot do not count', (t) => {
  const sep = '-- Boot 0123456789abcdef on lab-a at 2026-01-01T00:00:00.000Z --\n';
  const b = (from: number, to: number) => lines(from, to, 'bbbbbbbb');
  t.deepEqual(bootChangesWithoutSeparator(lines(0, 3) + sep + b(0, 3)), []);
  t.deepEqual(bootChangesWithoutSeparator(lines(0, 3) + 'seq=000\n' + sep + b(7, 9)), []);
  t.deepEqual(bootChangesWithoutSeparator(lines(0, 3) + b(0, 3)), ['seq=00000000 boot=bbbbbbbb\r']);
  t.deepEqual(bootChangesWithoutSeparator(lines(0, 3) + 'seq=000' + b(7, 9)), [
    'seq=000seq=00000007 boot=bbbbbbbb\r',
  ]);
  // virtlogd dropped bytes inside one boot: not a lost boundary.
  t.deepEqual(bootChangesWithoutSeparator(lines(0, 3) + 'seq=000236\r\n' + 'seq=0004' + lines(5, 6)), []);
});
