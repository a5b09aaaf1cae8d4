// Segment keys: the checks readers run on every key of a listing agree with the full parse.
import test from 'ava';
import { isKeyOf, isSegmentKey, parseSegmentKey, segmentKey, segmentKeySeq } from '../../src/store/layout.js';

const keys = [
  segmentKey(0, 1, 'hosta'),
  segmentKey(999999, 99999999, 'h'),
  segmentKey(12, 345, 'node-7.example_org'),
  segmentKey(1, 2, 'x'.repeat(128)),
  '000000-00000001-' + 'x'.repeat(129),
  '000000-00000001-a..b',
  '000000-00000001-..',
  '000000-00000001-.hidden',
  '000000-00000001-',
  '000000-0000001-hosta',
  '0000000-00000001-hosta',
  '000000-00000001-host/a',
  '000000-00000001-hosta\n',
  '00000a-00000001-hosta',
  '000000-00000001-hosta.seg',
  '',
];

test('isSegmentKey: true exactly for the keys parseSegmentKey accepts', (t) => {
  for (const key of keys) t.is(isSegmentKey(key), parseSegmentKey(key) !== undefined, JSON.stringify(key));
  t.true(isSegmentKey('000000-00000001-a.b'));
  t.false(isSegmentKey('000000-00000001-a..b'));
});

test('isKeyOf: a key of that generation and sequence, on any host', (t) => {
  for (const key of keys) {
    const k = parseSegmentKey(key);
    if (!k) {
      t.false(isKeyOf(key, 0, 1), JSON.stringify(key));
      continue;
    }
    t.true(isKeyOf(key, k.generation, k.seq), key);
    t.false(isKeyOf(key, k.generation + 1, k.seq), key);
    t.false(isKeyOf(key, k.generation, k.seq + 1), key);
  }
  t.false(isKeyOf(segmentKey(0, 1, 'hosta'), 0, 10));
  t.false(isKeyOf(segmentKey(1, 0, 'hosta'), 0, 1));
});

test('segmentKeySeq: the sequence of a key, undefined for anything else', (t) => {
  for (const key of keys) t.is(segmentKeySeq(key), parseSegmentKey(key)?.seq, JSON.stringify(key));
  t.is(segmentKeySeq(segmentKey(3, 12345678, 'h')), 12345678);
});
