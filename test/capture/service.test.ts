// The capture service against real files: a writer that rotates like virtlogd (max_backups = 1:
// the old `.0` is deleted at each rollover), real store, real lock, hooks' seals in between.
import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { hookGlobalRetention } from '../../src/capture/global-retention.js';
import { Collector } from '../../src/capture/service.js';
import type { CapturedLine, LineSink } from '../../src/capture/sink.js';
import { readCaptureStatus } from '../../src/capture/status.js';
import { withHost } from '../../src/store/domain-state.js';
import { liveLogPath } from '../../src/store/layout.js';
import { sealHost } from '../../src/store/seal.js';
import { withStore } from '../../src/store/session.js';
import { listSegments } from '../../src/store/segments.js';
import { readHistory } from '../../src/history/reader.js';
import { tempConfig, UUID } from '../store/helpers.js';

const MAX_SIZE = 256;

/** Appends like virtlogd: a write that would pass max_size first rolls the file over. */
function virtlogdWriter(path: string) {
  return (text: string) => {
    const size = fs.existsSync(path) ? fs.statSync(path).size : 0;
    if (size > 0 && size + text.length > MAX_SIZE) {
      fs.rmSync(`${path}.0`, { force: true });
      fs.renameSync(path, `${path}.0`);
    }
    fs.appendFileSync(path, text);
  };
}

async function setup() {
  const config = tempConfig();
  fs.mkdirSync(config.liveDir, { recursive: true });
  const path = liveLogPath(config.liveDir, UUID, 'serial0');
  await withStore(config, UUID, (s) => {
    s.domain = withHost(s.domain, config.hostName, {
      generation: 1,
      devices: { serial0: { path, kind: 'log', truncating: false } },
    });
  });
  return { config, path, write: virtlogdWriter(path) };
}

function sink(): LineSink & { lines: CapturedLine[] } {
  const lines: CapturedLine[] = [];
  return { lines, write: (l) => lines.push(l), close: async () => undefined };
}

async function history(config: ReturnType<typeof tempConfig>): Promise<string> {
  let out = '';
  for await (const e of readHistory(config, UUID)) if (e.type === 'data') out += e.data.toString('latin1');
  return out;
}

test('every byte reaches the store once through many rollovers, with hook seals in between', async (t) => {
  const { config, write } = await setup();
  const s = sink();
  const c = new Collector(config, {
    virtlogdConf: `max_size = ${MAX_SIZE}\nmax_backups = 1\n`,
    flushMs: 0,
    pollMs: 0,
    sinks: [s],
  });
  let expected = '';
  let now = Date.now();
  // Sinks get what arrives after the service first looked at a file.
  await c.tick(now);
  for (let n = 0; n < 400; n++) {
    const line = `seq=${n} some guest output\n`;
    write(line);
    expected += line;
    // The service looks after every ~2 lines; a hook seals now and then (stop/release elsewhere).
    if (n % 2 === 1) {
      await c.tick((now += 300));
      await c.settled();
    }
    if (n % 97 === 0) await sealHost(config, UUID, config.hostName, 'stop');
  }
  await c.tick((now += 1000));
  await c.settled();
  await c.stop();
  await sealHost(config, UUID, config.hostName, 'stop');
  t.is(await history(config), expected);
  t.is(s.lines.map((l) => l.text.toString() + '\n').join(''), expected);
  t.true(s.lines.every((l, i) => i === 0 || l.time >= (s.lines[i - 1] as CapturedLine).time));
  const st = readCaptureStatus(config);
  t.is(st?.devices[0]?.lostBytes, 0);
  t.true((st?.devices[0]?.seals ?? 0) > 10);
});

test('bytes virtlogd deleted before the service looked are counted as lost, the rest is kept once', async (t) => {
  const { config, write } = await setup();
  const c = new Collector(config, {
    virtlogdConf: `max_size = ${MAX_SIZE}\nmax_backups = 1\n`,
    flushMs: 0,
    pollMs: 0,
  });
  let expected = '';
  const print = (from: number, to: number) => {
    for (let n = from; n < to; n++) {
      const line = `seq=${n} some guest output\n`;
      write(line);
      expected += line;
    }
  };
  let now = Date.now();
  print(0, 1);
  await c.tick(now);
  await c.settled();
  print(1, 4); // 96 bytes under the seal threshold (128): a new file is not sealed at first sight
  await c.tick((now += 100));
  await c.settled();
  print(4, 40); // two rollovers: the file seen last is deleted
  await c.tick(now + 3000);
  await c.settled();
  await c.stop();
  const st = readCaptureStatus(config);
  const lost = st?.devices[0]?.lostBytes ?? -1;
  t.is(lost, 96);
  await sealHost(config, UUID, config.hostName, 'stop');
  const kept = await history(config);
  // What was kept is in order and once: the newest files, after the gap of the deleted one.
  const seqs = kept
    .trim()
    .split('\n')
    .map((l) => Number(/^seq=(\d+) /.exec(l)?.[1]));
  t.true((seqs[0] as number) > 3);
  t.is(seqs.at(-1), 39);
  t.true(seqs.every((n, i) => i === 0 || n > (seqs[i - 1] as number)));
  // Bytes of files never seen are not counted: the count is a lower bound.
  t.true(kept.length + lost <= expected.length);
});

test('time points are written for the live file as it grows', async (t) => {
  const { config, write } = await setup();
  const c = new Collector(config, { virtlogdConf: `max_size = 1000000\n`, flushMs: 0, pollMs: 0 });
  write('a\n');
  await c.tick(1_000_000);
  write('b\n');
  await c.tick(1_000_100);
  await c.tick(1_000_600);
  await c.settled();
  await c.stop();
  const text = fs.readFileSync(join(config.logRoot, UUID, `times-${config.hostName}.jsonl`), 'utf8');
  const points = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as number[]);
  t.deepEqual(
    points.map((p) => [p[3], p[4]]),
    [
      [2, 1_000_000],
      [4, 1_000_100],
    ],
  );
});

test('retention runs by itself: global_cap_bytes deletes the oldest segments of any domain', async (t) => {
  const { config, path, write } = await setup();
  config.globalCapBytes = 4096;
  for (let i = 0; i < 6; i++) {
    write('x'.repeat(200) + '\n');
    await sealHost(config, UUID, config.hostName, 'stop');
  }
  const before = listSegments(config, UUID).length;
  const c = new Collector(config, { virtlogdConf: `max_size = ${MAX_SIZE}\n`, retentionMs: 0, pollMs: 0 });
  await c.tick(Date.now());
  await c.settled();
  await c.stop();
  const after = listSegments(config, UUID);
  t.true(before >= 6);
  t.true(after.length < before);
  t.true(after.reduce((n, s) => n + s.storedBytes + s.sidecarBytes, 0) <= 4096);
  t.truthy(path);
});

test('without the service, release end applies global_cap_bytes at most once an hour', async (t) => {
  const { config, write } = await setup();
  config.globalCapBytes = 4096;
  const fill = async () => {
    for (let i = 0; i < 6; i++) {
      write('x'.repeat(200) + '\n');
      await sealHost(config, UUID, config.hostName, 'stop');
    }
  };
  const bytes = () => listSegments(config, UUID).reduce((n, s) => n + s.storedBytes + s.sidecarBytes, 0);
  await fill();
  t.true(bytes() > 4096);
  await hookGlobalRetention(config, new Date(), () => undefined);
  t.true(bytes() <= 4096);
  await fill();
  await hookGlobalRetention(config, new Date(), () => undefined);
  t.true(bytes() > 4096, 'not again within the hour');
});

test('a file new to the service that sealed.json does not name is not sealed before it needs to be', async (t) => {
  const { config, write } = await setup();
  const c = new Collector(config, {
    virtlogdConf: `max_size = ${MAX_SIZE}\nmax_backups = 1\n`,
    flushMs: 0,
    pollMs: 0,
  });
  for (let n = 0; n < 4; n++) write(`seq=${n} some guest output\n`); // 96 bytes, under 128
  let now = Date.now();
  await c.tick(now);
  await c.settled();
  await c.tick((now += 2000)); // the status is written every 2 s
  await c.settled();
  let st = readCaptureStatus(config)?.devices[0];
  t.is(st?.seals, 0);
  t.is(st?.unsealedBytes, 96);
  write(`seq=4 some guest output\n`); // 120
  write(`seq=5 some guest output\n`); // 144: over the threshold (half of max_size)
  await c.tick((now += 2000));
  await c.settled();
  await c.stop();
  st = readCaptureStatus(config)?.devices[0];
  t.is(st?.seals, 1);
  t.is(st?.unsealedBytes, 0);
  await sealHost(config, UUID, config.hostName, 'stop');
  t.is(await history(config), Array.from({ length: 6 }, (_, n) => `seq=${n} some guest output\n`).join(''));
});

test('a guest new to this host is followed as soon as its domain.json says so, not at the next discovery', async (t) => {
  const config = tempConfig();
  fs.mkdirSync(config.liveDir, { recursive: true });
  const c = new Collector(config, { virtlogdConf: `max_size = 1000000\n`, flushMs: 0, pollMs: 0 });
  const t0 = 5_000_000;
  await c.tick(t0); // the first discovery: no domain yet
  const path = liveLogPath(config.liveDir, UUID, 'serial0');
  fs.writeFileSync(path, 'first line\n');
  // What a hook's prepare does for a guest starting here: domain.json names the device.
  await withStore(config, UUID, (s) => {
    s.domain = withHost(s.domain, config.hostName, {
      generation: 1,
      devices: { serial0: { path, kind: 'log', truncating: false } },
    });
  });
  // The service's clock stays far inside the periodic discovery's 2 s; only the signal can wake it.
  let now = t0 + 200;
  const timesFile = join(config.logRoot, UUID, `times-${config.hostName}.jsonl`);
  for (let i = 0; i < 200 && !fs.existsSync(timesFile); i++) {
    await c.tick(now++);
    await new Promise((r) => setTimeout(r, 20)); // real time for the fs.watch event to arrive
  }
  await c.stop();
  t.true(now - t0 < 2000, 'inside the periodic discovery interval');
  t.true(fs.existsSync(timesFile), 'the new guest was followed and its first line timed');
  // A session that changes nothing does not signal again.
  const signal = join(config.stateDir, 'capture', 'domains-changed');
  const before = fs.statSync(signal).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  await withStore(config, UUID, () => undefined);
  t.is(fs.statSync(signal).mtimeMs, before);
});
