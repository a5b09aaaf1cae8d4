// Per-line times: arrival points the service wrote, read back through sealed segments and live
// tails; --since/--until cut inside a boot; lines the service never saw are marked coarse.
import test from 'ava';
import * as fs from 'node:fs';
import { followedInRange, readTimedLines, type TimedEvent } from '../../src/capture/line-times.js';
import type { BootInfo, HistoryEvent } from '../../src/history/types.js';
import { Collector } from '../../src/capture/service.js';
import { isoTime } from '../../src/cli/show-output.js';
import { withHost } from '../../src/store/domain-state.js';
import { liveLogPath } from '../../src/store/layout.js';
import { sealHost } from '../../src/store/seal.js';
import { withStore } from '../../src/store/session.js';
import { tempConfig, UUID } from '../store/helpers.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

async function scenario() {
  const config = tempConfig();
  fs.mkdirSync(config.liveDir, { recursive: true });
  const path = liveLogPath(config.liveDir, UUID, 'serial0');
  await withStore(config, UUID, (s) => {
    s.domain = withHost(s.domain, config.hostName, {
      generation: 1,
      devices: { serial0: { path, kind: 'log', truncating: false } },
    });
  });
  const c = new Collector(config, { virtlogdConf: 'max_size = 1000000\n', pollMs: 0 });
  for (let i = 0; i < 6; i++) {
    fs.appendFileSync(path, `line ${i}\n`);
    await c.tick(T0 + i * 1000);
    await c.settled();
    // A hook seals in the middle: the first lines' times then come through a segment.
    if (i === 2) await sealHost(config, UUID, config.hostName, 'stop');
  }
  await c.stop();
  fs.appendFileSync(path, 'after the service\n');
  return config;
}

async function lines(config: ReturnType<typeof tempConfig>, o = {}) {
  const out: Extract<TimedEvent, { type: 'line' }>[] = [];
  for await (const e of readTimedLines(config, UUID, o)) if (e.type === 'line') out.push(e);
  return out;
}

test('every line has the time the service saw it; a line it never saw is coarse', async (t) => {
  const config = await scenario();
  const got = await lines(config);
  t.deepEqual(
    got.slice(0, 6).map((l) => [l.data.toString(), l.time, l.coarse]),
    [0, 1, 2, 3, 4, 5].map((i) => [`line ${i}\n`, T0 + i * 1000, false]),
  );
  t.is(got[6]?.data.toString(), 'after the service\n');
  t.true(got[6]?.coarse);
  t.true(
    got.every((l, i) => i === 0 || l.time >= got[i - 1]!.time),
    'never backwards',
  );
});

test('--since/--until select lines inside a boot, across a segment and the live tail', async (t) => {
  const config = await scenario();
  const got = await lines(config, { since: new Date(T0 + 1500), until: new Date(T0 + 4000) });
  t.deepEqual(
    got.map((l) => l.data.toString()),
    ['line 2\n', 'line 3\n', 'line 4\n'],
  );
  const tail = await lines(config, { since: new Date(T0 + 1500), until: new Date(T0 + 4000), lines: 2 });
  t.deepEqual(
    tail.map((l) => l.data.toString()),
    ['line 3\n', 'line 4\n'],
  );
});

test('short-iso stamps are journalctl-like, precise adds milliseconds', (t) => {
  t.regex(isoTime(T0), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$/);
  t.regex(isoTime(T0 + 42, undefined, true), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.042[+-]\d{4}$/);
});

test('-f with --since/--until: followed lines are kept by the time they are read, whole, boots only before a kept line', async (t) => {
  const data = (s: string): HistoryEvent => ({
    type: 'data',
    data: Buffer.from(s),
    host: 'h',
    device: 'serial0',
  });
  const boot = (id: string): HistoryEvent => ({
    type: 'boot',
    boot: { index: 0, id, host: 'h', at: new Date(T0).toISOString(), implicit: false } as BootInfo,
  });
  // The clock moves one second per line start.
  const events = [data('a\nb'), data('b\nc\n'), boot('B1'), data('d\n'), boot('B2'), data('e\nf\ng\n')];
  async function* feed() {
    yield* events;
  }
  async function run(since: number | undefined, until: number | undefined) {
    let clock = T0;
    const out: string[] = [];
    for await (const e of followedInRange(feed(), since, until, () => (clock += 1000)))
      out.push(e.type === 'boot' ? `[${e.boot.id}]` : e.data.toString());
    return out.join('');
  }
  // Line starts read at T0+1s (a), +2s (bb), +3s (c), +4s (d), +5s (e), +6s (f), +7s (g).
  t.is(await run(undefined, undefined), 'a\nbb\nc\n[B1]d\n[B2]e\nf\ng\n');
  t.is(await run(T0 + 2000, T0 + 3000), 'bb\nc\n', 'a line split over two reads is kept whole');
  t.is(await run(undefined, T0 + 4000), 'a\nbb\nc\n[B1]d\n', 'past --until nothing more');
  t.is(await run(T0 + 5000, undefined), '[B2]e\nf\ng\n', 'a boot without kept lines is not shown');
});
