import test from 'ava';
import {
  parseTimes,
  pickRun,
  pointDue,
  pointDueAt,
  pointLine,
  POINT_GAP_MS,
  timeAt,
  timedKey,
} from '../../src/capture/times.js';

test('a pending observation becomes a point at once first, then at most every POINT_GAP_MS', (t) => {
  t.true(pointDue(undefined, { offset: 10, time: 1000 }, 1000));
  t.false(pointDue(undefined, undefined, 1000));
  const last = { offset: 10, time: 1000 };
  t.false(pointDue(last, { offset: 20, time: 1100 }, 1000 + POINT_GAP_MS - 1));
  t.true(pointDue(last, { offset: 20, time: 1100 }, 1000 + POINT_GAP_MS));
  t.false(pointDue(last, { offset: 10, time: 1100 }, 9999), 'no growth, no point');
  t.true(pointDue(last, { offset: 5, time: 1100 }, 1001), 'a shrunk file starts a new run at once');
  // The time the service waits for before it looks at the device's points again.
  t.is(pointDueAt(last, { offset: 20, time: 1100 }), 1000 + POINT_GAP_MS);
  t.is(pointDueAt(undefined, { offset: 10, time: 1000 }), -Infinity);
  t.is(pointDueAt(last, { offset: 10, time: 1100 }), Infinity);
  t.is(pointDueAt(last, undefined), Infinity);
});

test('a line takes the time of the first point at or past its end', (t) => {
  const run = [
    { offset: 10, time: 100 },
    { offset: 30, time: 700 },
  ];
  t.is(timeAt(run, 1), 100);
  t.is(timeAt(run, 10), 100);
  t.is(timeAt(run, 11), 700);
  t.is(timeAt(run, 30), 700);
  t.is(timeAt(run, 31), undefined);
  t.is(timeAt(undefined, 1), undefined);
});

test('times file: runs split where a reused inode starts again; torn lines skipped', (t) => {
  const f = { dev: 3, ino: 9, birth: 0 };
  const text =
    pointLine(f, { offset: 10, time: 100 }) +
    pointLine(f, { offset: 20, time: 600 }) +
    pointLine(f, { offset: 5, time: 5000 }) +
    '[3,9,0,7' +
    '\n' +
    pointLine(f, { offset: 8, time: 5600 });
  const runs = parseTimes('h', text).get(timedKey({ host: 'h', ...f }));
  t.deepEqual(runs, [
    [
      { offset: 10, time: 100 },
      { offset: 20, time: 600 },
    ],
    [
      { offset: 5, time: 5000 },
      { offset: 8, time: 5600 },
    ],
  ]);
  t.is(pickRun(runs, 700)?.[0]?.time, 100);
  t.is(pickRun(runs, 6000)?.[0]?.time, 5000);
});
