// Target 4: N tiny TCG guests on one lab host started concurrently, then all restarted (destroy + start,
// the way OpenStack reboots), then stopped: hook failures, lost lines (test/lab/checker.ts on each
// guest's merged history from `virt-consolelog show`), lock waits and hook times (the plugin journal).
// N is 200 unless VCL_BENCH_SCALE_N says otherwise (--quick: 10).
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import { copyFileSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { checkHistory, summarise as summariseHistory } from '../test/lab/checker.js';
import { domainXml, GUEST_ASM, IMAGE_BYTES, novaConsolePath, type Guest } from '../test/lab/guest.js';
import { startLab, type Lab, type LabHost } from '../test/lab/harness.js';
import { define, sleep } from '../test/lab/scenario.js';
import type { Target } from './lib/result.js';
import { summarise, type Summary } from './lib/stats.js';

interface JournalLine {
  op: string;
  subop: string;
  domain: string;
  ms: number;
  failed: boolean;
  problems: string[];
  notes: string[];
}

function journal(host: LabHost): JournalLine[] {
  const out: JournalLine[] = [];
  for (const f of ['journal.log.3', 'journal.log.2', 'journal.log.1', 'journal.log']) {
    let text = '';
    try {
      text = readFileSync(join(host.paths.varLibVcl, f), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as JournalLine);
      } catch {
        /* a torn line would itself be a finding: counted below */
        out.push({
          op: 'unparsable',
          subop: '',
          domain: '',
          ms: 0,
          failed: true,
          problems: [line.slice(0, 200)],
          notes: [],
        });
      }
    }
  }
  return out;
}

async function virsh(host: LabHost, ...args: string[]): Promise<{ ok: boolean; ms: number; err: string }> {
  const t0 = process.hrtime.bigint();
  const r = await execa('virsh', ['-q', '-c', host.uri, ...args], { reject: false });
  return {
    ok: r.exitCode === 0,
    ms: Number(process.hrtime.bigint() - t0) / 1e6,
    err: r.exitCode === 0 ? '' : (r.stderr || r.stdout).slice(0, 300),
  };
}

/** Runs fn over items with at most `limit` in flight. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

function serialText(host: LabHost, g: Guest): string {
  try {
    return readFileSync(host.outside(g.serialPath as string), 'utf8');
  } catch {
    return '';
  }
}

/** The newest boot token and its last sequence number in a guest's serial file. */
function newestBoot(host: LabHost, g: Guest): { boot: string; last: number } | undefined {
  const r = checkHistory(serialText(host, g));
  const newest = r.boots[r.boots.length - 1];
  return newest ? { boot: newest.boot, last: newest.last } : undefined;
}

/**
 * Waits until every guest's serial file shows a boot other than `before[name]` with >= `lines` lines
 * (a truncating file serial holds only the newest boot; an append log holds them all).
 */
async function waitForOutput(
  host: LabHost,
  guests: Guest[],
  before: Map<string, string>,
  lines: number,
  timeoutMs: number,
): Promise<{ ms: number; silent: string[]; boots: Map<string, string> }> {
  const t0 = Date.now();
  const boots = new Map<string, string>();
  let silent = guests;
  while (Date.now() - t0 < timeoutMs) {
    silent = silent.filter((g) => {
      const b = newestBoot(host, g);
      if (b && b.boot !== before.get(g.name) && b.last >= lines) {
        boots.set(g.name, b.boot);
        return false;
      }
      return true;
    });
    if (silent.length === 0) break;
    await sleep(1000);
  }
  return { ms: Date.now() - t0, silent: silent.map((g) => g.name), boots };
}

/** The lab's sequence guest built to idle with hlt between lines (IDLE_TICKS), OpenStack-style file serial. */
async function idleGuest(lab: Lab, name: string, memoryMiB: number, sector: string): Promise<Guest> {
  const uuid = randomUUID();
  const image = join(lab.imagesDir, `${name}.img`);
  copyFileSync(sector, image);
  truncateSync(image, IMAGE_BYTES);
  const serialPath = novaConsolePath(uuid);
  const xml = domainXml({ name, uuid, image, serial: 'file', serialPath, memoryMiB });
  return { name, uuid, image, serial: 'file', serialPath, xml };
}

export interface ScaleBench {
  guests: number;
  memoryMiB: number;
  phases: Record<string, { wallMs: number; failures: number; firstError: string; perGuest: Summary }>;
  waits: Record<string, { ms: number; silent: number }>;
  history: { checked: number; ok: number; lostOrBroken: string[]; bootsPerGuest: Record<string, number> };
  hookRuns: number;
  hookFailures: number;
  hookProblems: string[];
  libvirtdHookErrors: string[];
  lockWaits: { runs: number; maxMs: number; totalMs: number };
  hookMs: Record<string, Summary>;
  targets: Target[];
  details: { title: string; head: string[]; rows: (string | number)[][] }[];
}

export async function benchScale(_repo: string, opts: { quick: boolean }): Promise<ScaleBench> {
  const n = Number(process.env.VCL_BENCH_SCALE_N) || (opts.quick ? 10 : 200);
  const memoryMiB = 16;
  // Keep every journal line of the run (the default cap would rotate the early ones away).
  const lab = await startLab({ hosts: ['bench-s'], hook: true, config: 'journal_max_bytes = 268435456\n' });
  try {
    const host = lab.host('bench-s');
    const sector = join(lab.imagesDir, 'seqguest-idle.bin');
    await execa('nasm', ['-f', 'bin', '-DIDLE_TICKS=1', '-o', sector, GUEST_ASM]);
    const guests: Guest[] = [];
    for (let i = 0; i < n; i++)
      guests.push(await idleGuest(lab, `scale-${String(i).padStart(3, '0')}`, memoryMiB, sector));
    await pool(guests, 4, (g) => define(host, g));

    const phases: ScaleBench['phases'] = {};
    const waits: ScaleBench['waits'] = {};
    const phase = async (
      name: string,
      fn: (g: Guest) => Promise<{ ok: boolean; ms: number; err: string }>,
    ) => {
      const t0 = Date.now();
      const rs = await Promise.all(guests.map(fn));
      const bad = rs.filter((r) => !r.ok);
      phases[name] = {
        wallMs: Date.now() - t0,
        failures: bad.length,
        firstError: bad[0]?.err ?? '',
        perGuest: summarise(rs.map((r) => r.ms)),
      };
    };
    const outputTimeout = 120_000 + n * 1000;

    await phase('start all at once', (g) => virsh(host, 'start', g.name));
    const w1 = await waitForOutput(host, guests, new Map(), 20, outputTimeout);
    waits['output of boot 1'] = { ms: w1.ms, silent: w1.silent.length };

    await phase('restart all at once (destroy + start)', async (g) => {
      const d = await virsh(host, 'destroy', g.name);
      if (!d.ok) return d;
      const s = await virsh(host, 'start', g.name);
      return { ok: s.ok, ms: d.ms + s.ms, err: s.err };
    });
    const w2 = await waitForOutput(host, guests, w1.boots, 20, outputTimeout);
    waits['output of boot 2'] = { ms: w2.ms, silent: w2.silent.length };

    await phase('stop all at once (destroy)', (g) => virsh(host, 'destroy', g.name));
    await sleep(2000); // detached jobs scheduled by the last events

    // Every line each guest printed, merged by the reader, checked for gaps, duplicates and lost boots.
    const lostOrBroken: string[] = [];
    const bootsPerGuest: Record<string, number> = {};
    let ok = 0;
    await pool(guests, 2, async (g) => {
      const r = await host.cli('show', g.uuid);
      const rep = checkHistory(r.stdout);
      bootsPerGuest[String(rep.boots.length)] = (bootsPerGuest[String(rep.boots.length)] ?? 0) + 1;
      if (r.exitCode === 0 && rep.ok && rep.boots.length === 2) ok++;
      else
        lostOrBroken.push(
          `${g.name}: exit ${r.exitCode}, ${rep.boots.length} boots; ${summariseHistory(rep).split('\n').slice(0, 3).join('; ')}`,
        );
    });

    const j = journal(host);
    const failed = j.filter((e) => e.failed || e.problems.length > 0);
    const waitsMs = j
      .flatMap((e) => e.notes)
      .map((note) => /waited (\d+) ms for the domain lock/.exec(note))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => Number(m[1]));
    const byEvent = new Map<string, number[]>();
    for (const e of j)
      byEvent.set(`${e.op} ${e.subop}`, [...(byEvent.get(`${e.op} ${e.subop}`) ?? []), e.ms]);
    const hookMs = Object.fromEntries([...byEvent].map(([k, v]) => [k, summarise(v)]));
    const libvirtdHookErrors = host
      .libvirtdLog()
      .split('\n')
      .filter((l) => /hook|virt-consolelog/i.test(l) && /error/i.test(l))
      .slice(0, 20);
    const failures = Object.values(phases).reduce((s, p) => s + p.failures, 0);
    const targets: Target[] = [
      {
        id: 'scale.hook-failures',
        what: `${n} guests started at once, restarted at once, stopped: hook failures (journal: failed or problems; libvirtd log: hook errors) and failed virsh operations`,
        limit: '0',
        measured: `${failed.length} hook runs with problems of ${j.length}; ${libvirtdHookErrors.length} hook errors in libvirtd.log; ${failures} virsh operations failed`,
        met: failed.length === 0 && libvirtdHookErrors.length === 0 && failures === 0 && n >= 200,
        ...(n < 200 ? { note: `N = ${n}, not 200` } : {}),
      },
      {
        id: 'scale.lost-lines',
        what: `${n} guests: merged history (show) of every guest complete (2 boots, each from seq 0, no gap, no duplicate)`,
        limit: '0 lost lines',
        measured: `${ok}/${n} complete; ${lostOrBroken.length} with gaps, duplicates or missing boots`,
        met: ok === n && n >= 200,
      },
      {
        id: 'scale.lock-waits',
        what: 'domain lock waits noted by hook runs (prepare notes waits > 100 ms)',
        limit: 'reported',
        measured: `${waitsMs.length} runs waited; max ${waitsMs.length ? Math.max(...waitsMs) : 0} ms`,
        met: undefined,
      },
    ];
    return {
      guests: n,
      memoryMiB,
      phases,
      waits,
      history: { checked: n, ok, lostOrBroken: lostOrBroken.slice(0, 20), bootsPerGuest },
      hookRuns: j.length,
      hookFailures: failed.length,
      hookProblems: failed
        .slice(0, 10)
        .map((e) => `${e.domain} ${e.op} ${e.subop}: ${e.problems.join('; ').slice(0, 300)}`),
      libvirtdHookErrors,
      lockWaits: {
        runs: waitsMs.length,
        maxMs: waitsMs.length ? Math.max(...waitsMs) : 0,
        totalMs: waitsMs.reduce((a, b) => a + b, 0),
      },
      hookMs,
      targets,
      details: [
        {
          title: `${n} sequence guests (TCG, ${memoryMiB} MiB, a line every BIOS tick (55 ms) with hlt in between, OpenStack-style file serial) on one lab host`,
          head: ['phase', 'wall ms (all guests)', 'per-guest virsh median ms', 'p90', 'max', 'failed'],
          rows: Object.entries(phases).map(([k, p]) => [
            k,
            p.wallMs,
            p.perGuest.median,
            p.perGuest.p90,
            p.perGuest.max,
            p.failures + (p.firstError ? ` (${p.firstError})` : ''),
          ]),
        },
        {
          title:
            'Waiting for output (every guest >= 20 lines in a new boot), counted from the end of the phase before',
          head: ['after', 'ms', 'guests silent at the deadline'],
          rows: Object.entries(waits).map(([k, w]) => [k, w.ms, w.silent]),
        },
        {
          title: 'Hook run time under this load, from the plugin journal (ms inside Node)',
          head: ['event', 'median', 'p90', 'max', 'runs'],
          rows: Object.entries(hookMs).map(([k, s]) => [k, s.median, s.p90, s.max, s.n]),
        },
        {
          title: 'Problems (first ones)',
          head: ['what'],
          rows: [
            ...failed
              .slice(0, 5)
              .map((e) => `${e.domain} ${e.op} ${e.subop}: ${e.problems.join('; ').slice(0, 200)}`),
            ...lostOrBroken.slice(0, 5),
            ...libvirtdHookErrors.slice(0, 5),
          ].map((x) => [x]),
        },
      ],
    };
  } finally {
    await lab.stop();
  }
}
