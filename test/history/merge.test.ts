// The merge's order: segment keys, raised by `orderGeneration`; live tails after their generation.
import test from 'ava';
import { mergeHistory, segmentSortKey, type LiveTail, type MergedSegment } from '../../src/history/merge.js';

const seg = (key: string, orderGeneration?: number): MergedSegment => ({
  key,
  host: key.split('-').slice(2).join('-'),
  device: 'serial0',
  plainBytes: 10,
  lines: 1,
  boots: [],
  firstTime: '2026-01-01T00:00:00.000Z',
  lastTime: '2026-01-01T00:00:00.000Z',
  ...(orderGeneration !== undefined ? { orderGeneration } : {}),
});

const live = (host: string, generation: number): LiveTail => ({
  host,
  device: 'serial0',
  generation,
  path: `/live/${host}`,
  dev: 1,
  ino: 1,
  order: 0,
  start: 0,
  end: 5,
  lines: 1,
  boots: [],
  firstTime: '2026-01-01T00:00:00.000Z',
  lastTime: '2026-01-01T00:00:00.000Z',
});

test('segmentSortKey: the key, with a higher orderGeneration in place of the generation', (t) => {
  t.is(segmentSortKey(seg('000001-00000004-b')), '000001-00000004-b');
  t.is(segmentSortKey(seg('000001-00000004-b', 3)), '000003-00000004-b');
  // Never lower than the key's own generation, never out of the key's range.
  t.is(segmentSortKey(seg('000005-00000004-b', 3)), '000005-00000004-b');
  t.is(segmentSortKey(seg('000001-00000004-b', 1_000_000)), '000001-00000004-b');
});

test("seals placed after a fetch sort after the fetched history, before the host's later seals and live tail", (t) => {
  const pieces = mergeHistory(
    [
      seg('000000-00000001-a'),
      seg('000001-00000002-b'), // an earlier stay on b, before the arrival
      seg('000001-00000003-b', 3), // sealed on b while the fetch from a was owed
      seg('000001-00000004-b', 3),
      seg('000002-00000006-a'),
      seg('000003-00000005-b'), // sealed on b after the fetch raised its generation
    ],
    [live('b', 3)],
    'serial0',
  );
  t.deepEqual(
    pieces.map((p) => (p.source.kind === 'segment' ? p.source.key : `live ${p.host}`)),
    [
      '000000-00000001-a',
      '000001-00000002-b',
      '000002-00000006-a',
      '000001-00000003-b',
      '000001-00000004-b',
      '000003-00000005-b',
      'live b',
    ],
  );
});

test('without orderGeneration (older stores and hosts) the order is the key order', (t) => {
  const pieces = mergeHistory([seg('000001-00000003-b'), seg('000000-00000001-a')], [], 'serial0');
  t.deepEqual(
    pieces.map((p) => p.sortKey),
    ['000000-00000001-a', '000001-00000003-b'],
  );
});

test('mergeHistory: boot marks in offset order, without reordering the listing it was given', (t) => {
  const mark = (offset: number) => ({
    offset,
    id: `b${offset}`,
    host: 'a',
    at: '2026-01-01T00:00:00.000Z',
    markerBytes: 0,
  });
  const unordered = { ...seg('000001-00000001-a'), boots: [mark(7), mark(0), mark(3)] };
  const ordered = { ...seg('000001-00000002-a'), boots: [mark(0), mark(5)] };
  const tail = { ...live('a', 1), boots: [mark(4), mark(1)] };
  const pieces = mergeHistory([unordered, ordered], [tail], 'serial0');
  t.deepEqual(
    pieces.map((p) => p.boots.map((b) => b.offset)),
    [
      [0, 3, 7],
      [0, 5],
      [1, 4],
    ],
  );
  t.deepEqual(
    unordered.boots.map((b) => b.offset),
    [7, 0, 3],
  );
  t.deepEqual(
    tail.boots.map((b) => b.offset),
    [4, 1],
  );
});
