import test from 'ava';
import {
  COALESCE_MS,
  decideLook,
  decideSeal,
  fastGrowth,
  fileKey,
  lostBytes,
  policyFor,
  virtlogdMaxSize,
  type SeenFile,
} from '../../src/capture/decide.js';
import { pointDue, POINT_GAP_MS, timeAt, type TimePoint } from '../../src/capture/times.js';

const policy = policyFor(4096, 0);
const f = (name: string, ino: number, size: number, live = !name.includes('.console.')): SeenFile => ({
  name,
  live,
  dev: 1,
  ino,
  birth: 5,
  size,
});

test('a backup with unsealed bytes is sealed at once, whatever its size', (t) => {
  const files = [f('x.console.0', 7, 4096), f('x.console', 8, 10)];
  const sealed = new Map([
    [fileKey(files[0]!), 4000],
    [fileKey(files[1]!), 0],
  ]);
  t.deepEqual(decideSeal(files, sealed, policy, 0), { seal: true, why: 'rotated', unsealed: 106 });
});

test('the live file is sealed from half of max_size, not before', (t) => {
  const live = f('x.console', 8, 2047);
  const sealed = new Map([[fileKey(live), 0]]);
  t.false(decideSeal([live], sealed, policy, 10_000).seal);
  t.is(decideSeal([{ ...live, size: 2048 }], sealed, policy, 0).why, 'size');
});

test('a file never seen sealed is sealed once to learn its watermark', (t) => {
  t.is(decideSeal([f('x.console', 8, 5)], new Map(), policy, 0).why, 'unknown');
  t.false(decideSeal([f('x.console', 8, 0)], new Map(), policy, 0).seal);
});

test('flush: unsealed bytes are sealed every flushMs, nothing sealed means nothing to do', (t) => {
  const p = policyFor(4096, 2000);
  const live = f('x.console', 8, 100);
  t.false(decideSeal([live], new Map([[fileKey(live), 50]]), p, 1999).seal);
  t.is(decideSeal([live], new Map([[fileKey(live), 50]]), p, 2000).why, 'flush');
  t.false(decideSeal([live], new Map([[fileKey(live), 100]]), p, 60_000).seal);
});

test('lost bytes: a deleted file counts what was not sealed of it; a rename loses nothing', (t) => {
  const before = [f('x.console.0', 7, 4096), f('x.console', 8, 4000)];
  const renamed = [f('x.console.0', 8, 4100), f('x.console', 9, 10)];
  const sealed = new Map([[fileKey(before[0]!), 1000]]);
  t.is(lostBytes(before, renamed, sealed), 3096);
  t.is(lostBytes(before, before, sealed), 0);
  t.is(lostBytes(before, [before[0]!, f('x.console', 8, 4001)], new Map()), 0);
});

test('virtlogd max_size from its conf, default 2 MiB; 0 = no rotation', (t) => {
  t.is(virtlogdMaxSize('max_size = 4096\nmax_backups = 1\n'), 4096);
  t.is(virtlogdMaxSize(undefined), 2 * 1024 * 1024);
  t.is(virtlogdMaxSize('#max_size = 4096\n'), 2 * 1024 * 1024);
  t.is(policyFor(0, 0).sealAtBytes, 1024 * 1024);
});

test('writes to a log are looked at once per COALESCE_MS, by size; a rename or the sweep lists at once', (t) => {
  const news = { sweep: false, renamed: false, written: true, fast: false, msSinceLastLook: 0 };
  t.is(decideLook(news), 'none');
  t.is(decideLook({ ...news, msSinceLastLook: COALESCE_MS - 1 }), 'none');
  t.is(decideLook({ ...news, msSinceLastLook: COALESCE_MS }), 'sizes');
  t.is(decideLook({ ...news, renamed: true }), 'list');
  t.is(decideLook({ ...news, written: false, sweep: true }), 'list');
  t.is(decideLook({ ...news, written: false, msSinceLastLook: 10 * COALESCE_MS }), 'none');
  // A device growing fast is looked at on each write: its seal must not wait.
  t.is(decideLook({ ...news, fast: true }), 'sizes');
  t.is(decideLook({ ...news, fast: true, written: false }), 'none');
  t.is(fastGrowth(policyFor(4096, 0)), 256);
  t.is(fastGrowth(policyFor(2 * 1024 * 1024, 0)), 128 * 1024);
  t.true(COALESCE_MS <= POINT_GAP_MS, 'a point lags its line by at most the larger of the two, plus a tick');
});

test('looks coalesced per COALESCE_MS and points per POINT_GAP_MS: no line stamped over 550 ms late', (t) => {
  // The service's loop in miniature: a 50 ms tick, decideLook per device, a pending observation that
  // becomes a point when pointDue; lines arrive at uneven paces (10/s, bursts, one a second).
  const tick = 50;
  for (const gaps of [[100], [7, 13, 290], [1000], [30, 470, 520, 60], [449, 451]]) {
    const arrived: [end: number, at: number][] = [];
    const points: TimePoint[] = [];
    let size = 0;
    let written = false;
    let lastLook = 0;
    let seen = 0;
    let pending: TimePoint | undefined;
    let next = 3;
    for (let i = 0, now = 0; now < 20_000; now++) {
      if (now === next) {
        size += 80;
        arrived.push([size, now]);
        written = true;
        next += gaps[i++ % gaps.length] as number;
      }
      if (now % tick) continue;
      const look = decideLook({
        sweep: false,
        renamed: false,
        written,
        fast: false,
        msSinceLastLook: now - lastLook,
      });
      if (look !== 'none') {
        written = false;
        lastLook = now;
        if (size !== seen) pending = { offset: (seen = size), time: now };
      }
      if (pointDue(points.at(-1), pending, now)) {
        points.push(pending as TimePoint);
        pending = undefined;
      }
    }
    let worst = 0;
    for (const [end, at] of arrived) {
      const time = timeAt(points, end);
      if (time !== undefined) worst = Math.max(worst, time - at);
    }
    t.true(worst <= POINT_GAP_MS + tick, `gaps ${gaps.join(',')}: worst ${worst} ms`);
  }
});
