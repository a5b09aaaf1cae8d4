// Lab (issue 17): virtlogd max_size = 4096, max_backups = 1 (it keeps ~8 KiB of a guest: 30 s at
// 270 B/s). With `virt-consolelog collect` running, a guest printing ~10 lines/s for 50 s is shown
// complete; a kill -9 of the service while the guest prints, then a restart, loses nothing and
// seals nothing twice; with the service stopped for good, the hooks still seal at events as before.
import test from 'ava';
import { checkHistory, parseSeqLine, summarise, type HistoryReport } from './checker.js';
import { createGuest, domainXml, livePath, type Guest } from './guest.js';
import { CLI_JS, lazyLab, type LabHost, type RunPromise } from './harness.js';
import * as s from './scenario.js';

const lab = lazyLab({
  hosts: ['lab-a'],
  virtlogd: { maxSize: 4096, maxBackups: 1 },
  config: 'auto_enable = 0\n',
});
test.after.always(() => lab.stop());

/** ~10 lines/s (~270 B/s): virtlogd's window of 8 KiB holds about 30 s of it. */
const DELAY_US = 100_000;
const LINES = 480;

let service: RunPromise | undefined;
let serviceErr = '';

function startService(a: LabHost): RunPromise {
  const p = a.exec([process.execPath, CLI_JS, 'collect']);
  p.stderr?.on('data', (c: Buffer) => (serviceErr += c.toString()));
  return p;
}

async function stopService(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (!service) return;
  service.kill(signal);
  await service;
  service = undefined;
}

async function guest(a: LabHost, name: string): Promise<Guest> {
  const l = await lab.get();
  const base = await createGuest(l, { name, serial: 'pty-log', delayUs: DELAY_US });
  const serialPath = livePath(base.uuid);
  const g = { ...base, serialPath, xml: domainXml({ ...base, serialPath }) };
  await s.defineAndStart(a, g);
  return g;
}

/** Waits until the guest's live file shows sequence line `n` of its newest boot. */
async function waitForLine(a: LabHost, g: Guest, n: number): Promise<void> {
  await s.waitForSeq(() => s.readInside(a, g.serialPath as string), { minLast: n, timeoutMs: 240_000 });
}

async function shown(a: LabHost, g: Guest, ...args: string[]): Promise<HistoryReport> {
  const r = await a.cli('show', ...args, g.name);
  if (r.exitCode !== 0) throw new Error(`show: ${r.stderr}`);
  return checkHistory(r.stdout);
}

interface JsonLine {
  type: string;
  text?: string;
  /** ms since the epoch (show's JSON gives ISO 8601). */
  time?: number;
  coarse?: boolean;
}

async function shownJson(a: LabHost, g: Guest, ...args: string[]): Promise<JsonLine[]> {
  const r = await a.cli('show', '--json', ...args, g.name);
  if (r.exitCode !== 0) throw new Error(`show: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((x) => JSON.parse(x) as JsonLine & { time?: string })
    .filter((x) => x.type === 'line')
    .map((x) => ({ ...x, time: x.time === undefined ? undefined : Date.parse(x.time) }));
}

test.serial(
  'lab: with the service running, a guest printing for 50 s is shown complete and timed',
  async (t) => {
    const l = await lab.get();
    const a = l.host('lab-a');
    service = startService(a);
    const g = await guest(a, 'cap1');
    // The test's own clock on the guest's pace: when each line first shows in the live file.
    const seenAt = new Map<number, number>();
    const watcher = setInterval(() => {
      const now = Date.now();
      for (const line of s
        .readInside(a, g.serialPath as string)
        .split('\n')
        .slice(0, -1)) {
        const q = parseSeqLine(line);
        if (q && !seenAt.has(q.seq)) seenAt.set(q.seq, now);
      }
    }, 100);
    try {
      // One line past: the file may end inside line LINES (seen), which the destroy then cuts short.
      await waitForLine(a, g, LINES + 1);
      clearInterval(watcher);
      await s.destroy(a, g.name);
      const r = await shown(a, g);
      t.log(summarise(r));
      t.is(r.boots.length, 1);
      const b = r.boots[0]!;
      t.true(b.last >= LINES);
      t.true(b.complete, `gaps ${JSON.stringify(b.gaps)} duplicates ${b.duplicates}`);
      t.is(r.malformed.length, 0);
      const st = await a.cli('status', g.name);
      t.log(st.stdout);

      // -o short-iso: every line has a time (not coarse: no `~`); --json: never backwards, within
      // 1 s of when it appeared.
      const iso = await a.cli('show', '-o', 'short-iso', g.name);
      const body = iso.stdout.split('\n').filter((x) => x && !x.startsWith('-- Boot '));
      const stamped = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \S+ cap1\[serial0\]: seq=/;
      t.true(
        body.every((x) => stamped.test(x)),
        body.find((x) => !stamped.test(x)),
      );
      const lines = await shownJson(a, g);
      t.true(lines.every((x) => x.coarse === false && typeof x.time === 'number'));
      t.true(lines.every((x, i) => i === 0 || (x.time as number) >= (lines[i - 1]!.time as number)));
      let worst = 0;
      let compared = 0;
      for (const x of lines) {
        const q = parseSeqLine(x.text ?? '');
        const seen = q && seenAt.get(q.seq);
        if (!seen) continue;
        compared++;
        worst = Math.max(worst, Math.abs((x.time as number) - seen));
      }
      t.log(`${compared} lines compared with the test's own sighting: worst difference ${worst} ms`);
      t.true(compared > LINES / 2);
      t.true(worst <= 1000);

      // --since/--until cut inside the boot exactly at the first/last line in range.
      const since = lines[100]!.time as number;
      const until = lines[300]!.time as number;
      const cut = await shownJson(
        a,
        g,
        '--since',
        new Date(since).toISOString(),
        '--until',
        new Date(until).toISOString(),
      );
      const expected = lines.filter((x) => (x.time as number) >= since && (x.time as number) <= until);
      t.deepEqual(
        cut.map((x) => x.text),
        expected.map((x) => x.text),
      );
      t.true(expected.length >= 190 && expected.length < lines.length);
    } finally {
      clearInterval(watcher);
      await stopService('SIGTERM');
      t.log(serviceErr);
    }
  },
);

test.serial(
  'lab: kill -9 of the service while the guest prints, then a restart: nothing lost or twice',
  async (t) => {
    const l = await lab.get();
    const a = l.host('lab-a');
    service = startService(a);
    const g = await guest(a, 'cap2');
    try {
      await waitForLine(a, g, 100);
      await stopService('SIGKILL');
      // Killed for less than virtlogd's window (~30 s at this rate): a restart catches up.
      await waitForLine(a, g, 150);
      service = startService(a);
      await waitForLine(a, g, 250);
      await stopService('SIGKILL');
      service = startService(a);
      // One line past: the file may end inside line 350 (seen), which the destroy then cuts short.
      await waitForLine(a, g, 351);
      await s.destroy(a, g.name);
      const r = await shown(a, g);
      t.log(summarise(r));
      t.is(r.boots.length, 1);
      const b = r.boots[0]!;
      t.true(b.last >= 350);
      t.true(b.complete, `gaps ${JSON.stringify(b.gaps)} duplicates ${b.duplicates}`);
    } finally {
      await stopService('SIGTERM');
    }
  },
);

test.serial(
  'lab: service stopped for good: the hook still seals at release (virtlogd window only)',
  async (t) => {
    const l = await lab.get();
    const a = l.host('lab-a');
    const g = await guest(a, 'cap3');
    await waitForLine(a, g, 61); // line 60 whole before the destroy
    await s.destroy(a, g.name);
    const r = await shown(a, g);
    t.log(summarise(r));
    t.is(r.boots.length, 1);
    const b = r.boots[0]!;
    t.true(b.last >= 60);
    t.is(b.duplicates + b.reorderings, 0);
    // Under virtlogd's window: the hook's seal at release end holds it all, as without the service.
    t.true(b.complete);
  },
);
