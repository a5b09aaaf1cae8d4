// Imported arrival times (pure): identity of a segment across stores, the file's lines, the points
// a segment offers, the per-point check of a peer's points, compaction.
import test from 'ava';
import {
  checkPeerPoints,
  compactImported,
  identityKey,
  identityOf,
  importedLine,
  parseImported,
  pointsOfSegment,
  segmentRun,
  type TimedSegment,
} from '../../src/capture/imported-times.js';
import { parseTimes, pointLine } from '../../src/capture/times.js';

const T0 = Date.parse('2026-11-02T10:00:00Z');
const SHA = 'a'.repeat(64);

const own: TimedSegment = {
  key: '000000-00000001-lab-a',
  host: 'lab-a',
  sha256: SHA,
  sealedAt: new Date(T0 + 10_000).toISOString(),
  origin: { host: 'lab-a', dev: 1, ino: 2, start: 100 },
  watermark: { birthtimeMs: 3 },
};
const imported: TimedSegment = {
  ...own,
  key: '000000-00000004-lab-a',
  host: 'lab-a',
  sha256: 'b'.repeat(64),
  watermark: undefined,
  importedFrom: { host: 'lab-a', key: '000000-00000001-lab-a' },
  trimmedFrom: { sha256: SHA, bytes: 10 },
};

test('an import keeps the identity of what it was imported from; a trimmed one its original hash', (t) => {
  t.deepEqual(identityOf(own), { host: 'lab-a', key: own.key, sha256: SHA });
  t.deepEqual(identityOf(imported), identityOf(own));
});

test('segmentRun: own seals from the host times file by origin file, imports from the imported file', (t) => {
  const local = parseTimes('lab-a', pointLine({ dev: 1, ino: 2, birth: 3 }, { offset: 110, time: T0 }));
  const imports = parseImported(importedLine(identityOf(own), [{ offset: 120, time: T0 + 1 }]));
  t.deepEqual(
    segmentRun(
      own,
      () => local,
      () => imports,
    ),
    { run: [{ offset: 110, time: T0 }], base: 100 },
  );
  t.deepEqual(
    segmentRun(
      imported,
      () => local,
      () => imports,
    ),
    { run: [{ offset: 120, time: T0 + 1 }], base: 100 },
  );
  t.deepEqual(
    segmentRun(
      { ...own, watermark: undefined },
      () => local,
      () => imports,
    ).run,
    undefined,
  );
});

test('pointsOfSegment: the points inside, and the first past the end moved to the end', (t) => {
  const run = [50, 104, 108, 120, 130].map((offset, i) => ({ offset, time: T0 + i }));
  t.deepEqual(pointsOfSegment(run, 100, 10), [
    { offset: 4, time: T0 + 1 },
    { offset: 8, time: T0 + 2 },
    { offset: 10, time: T0 + 3 },
  ]);
  t.deepEqual(pointsOfSegment(run, 100, 8), [
    { offset: 4, time: T0 + 1 },
    { offset: 8, time: T0 + 2 },
  ]);
  t.deepEqual(pointsOfSegment(undefined, 0, 8), []);
});

test('checkPeerPoints keeps sound points and drops each bad one', (t) => {
  const now = T0;
  t.deepEqual(
    checkPeerPoints(
      [
        [4, T0],
        [4, T0],
        [0, T0],
        [-1, T0],
        [2.5, T0],
        ['8', T0],
        [8, 1],
        [8, T0 + 2 * 86_400_000],
        [11, T0],
        [10, T0 + 9],
        null,
        [10],
      ],
      10,
      now,
    ),
    {
      points: [
        { offset: 4, time: T0 },
        { offset: 10, time: T0 + 9 },
      ],
      dropped: 10,
    },
  );
  t.deepEqual(checkPeerPoints('garbage', 10, now), { points: [], dropped: 1 });
});

test('the imported file: torn and foreign lines skipped, the first entry of an identity wins; compaction', (t) => {
  const a = identityOf(own);
  const b = { ...a, key: '000000-00000002-lab-a' };
  const text =
    importedLine(a, [{ offset: 4, time: T0 }]) +
    '{"host":"lab-a","key":\n' +
    '{"host":"x","key":"y","sha256":"z","points":[[5,1],[4,2]]}\n' +
    importedLine(a, [{ offset: 9, time: T0 }]) +
    importedLine(b, [{ offset: 7, time: T0 }]);
  const m = parseImported(text);
  t.deepEqual([...m.keys()], [identityKey(a), identityKey(b)]);
  t.deepEqual(m.get(identityKey(a)), [{ offset: 4, time: T0 }]);
  t.is(
    compactImported(text, (k) => k === identityKey(b)),
    importedLine(b, [{ offset: 7, time: T0 }]),
  );
  const clean = importedLine(a, []) + importedLine(b, []);
  t.is(
    compactImported(clean, () => true),
    undefined,
    'nothing to drop: no rewrite',
  );
});
