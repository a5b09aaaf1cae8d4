// Target 4: N tiny TCG guests on one lab host started concurrently, then all restarted (destroy + start,
// the way OpenStack reboots), then stopped: hook failures, lost lines (test/lab/checker.ts on each
// guest's merged history from `virt-consolelog show`), lock waits and hook times (the plugin journal).
// Each storm runs with the plugin and again without it (hook removed, libvirtd reloaded) on the same guests:
// the wall time ratio is what an operator sees after a host reboot. Sizes: 200 and 50 unless
// VCL_BENCH_SCALE_N says otherwise (a comma list; --quick: 10). The history check runs on the first size.
// "With the plugin" is the plugin as installed: the hook and the capture service (`collect`, which the
// packages start and which answers the hook's events, so that they start no Node), running in the lab
// host from before the warm-up until the plugin runs of a size end; the baseline has neither.
// VCL_BENCH_SCALE_FLOOR=1 adds a third mode, a hook that does nothing (sh, exit 0): what libvirt's
// running of any hook costs a storm, the floor under the plugin's ratio. VCL_BENCH_SCALE_MODES (a comma list
// of plugin, none, nullHook) runs those modes only; without plugin the warm-up runs in the first mode
// listed (no capture service, no definition upgrades to wait for): the floor at N = 200 in half the time.
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { checkHistory, summarise as summariseHistory } from '../test/lab/checker.js';
import { dropTornLinesBeforeSeparators } from '../test/lab/store-common.js';
import { liveLogPath } from '../src/store/layout.js';
import { SERVICE_NOTE } from '../src/lifecycle/run.js';
import { cpuByCommand, parseAcct, startAccounting, stopAccounting, type CommandCpu } from './lib/acct.js';
import { readText } from './lib/machine.js';
import { benchNode, nodeVersion, overlayNodeShare, type BenchNode } from './lib/node.js';
import { startCollect, stopCollect, type CaptureService } from './lib/lab-collect.js';
import { domainXml, GUEST_ASM, IMAGE_BYTES, novaConsolePath, type Guest } from '../test/lab/guest.js';
import { HOOK_NAME, startLab, type Lab, type LabHost } from '../test/lab/harness.js';
import { define, sleep } from '../test/lab/scenario.js';
import type { Target } from './lib/result.js';
import { ratio, summarise, type Summary } from './lib/stats.js';

interface JournalLine {
  at: string;
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
          at: '',
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

/**
 * The newest boot token and its last sequence number in a guest's console output: the file serial, or
 * (once the automatic mode upgraded the definition) the append log in the default live_dir, whichever
 * was written last.
 */
function newestBoot(host: LabHost, g: Guest): { boot: string; last: number } | undefined {
  const files = [
    host.outside(g.serialPath as string),
    host.outside(liveLogPath('/var/log/libvirt/qemu', g.uuid, 'serial0')),
  ]
    .map((path) => ({ path, mtime: statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? -1 }))
    .filter((f) => f.mtime >= 0)
    .sort((a, b) => b.mtime - a.mtime);
  const newest = files[0] ? checkHistory(readText(files[0].path)).boots.at(-1) : undefined;
  return newest ? { boot: newest.boot, last: newest.last } : undefined;
}

/** True for a journal line of a hook run (jobs write `subop: "job"`; unparsable lines are neither). */
function isHookRun(e: JournalLine): boolean {
  return e.subop !== 'job' && e.op !== 'unparsable';
}

/** utime + stime of a process so far, seconds (/proc/PID/stat; all its threads, 1/100 s). */
function cpuSeconds(pid: number): number {
  const f = readText(`/proc/${pid}/stat`).split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Waits until no process of the machine runs a detached job for one of these guests (argv holds its UUID). */
async function waitForJobs(guests: Guest[], timeoutMs: number): Promise<{ ms: number; left: number }> {
  const uuids = guests.map((g) => g.uuid);
  const t0 = Date.now();
  let left = 0;
  while (Date.now() - t0 < timeoutMs) {
    left = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const argv = readText(`/proc/${pid}/cmdline`);
      if (argv.includes('virt-consolelog') && uuids.some((u) => argv.includes(u))) left++;
    }
    if (left === 0) break;
    await sleep(1000);
  }
  return { ms: Date.now() - t0, left };
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
  /** The Node the lab host's hook and jobs ran (VCL_BENCH_NODE, else the machine's). */
  node?: { path: string; version: string };
  guests: number;
  memoryMiB: number;
  phases: Record<
    string,
    { startedAt: string; wallMs: number; failures: number; firstError: string; perGuest: Summary }
  >;
  waits: Record<string, { ms: number; silent: number }>;
  history: {
    checked: number;
    ok: number;
    lostOrBroken: string[];
    bootsPerGuest: Record<string, number>;
    /** Last lines of a boot cut short by `virsh destroy` (not counted as malformed). */
    tornByDestroy?: number;
  };
  storms: StormWalls;
  /** Every storm's wall time per mode, one per round (VCL_BENCH_SCALE_ROUNDS); `storms` has their medians. */
  stormRuns?: Record<string, StormRuns>;
  /** Hook run time per event in each plugin phase (journal lines recorded within its wall time). */
  hookMsByPhase?: Record<string, Record<string, Summary>>;
  hookRuns: number;
  hookFailures: number;
  hookProblems: string[];
  libvirtdHookErrors: string[];
  lockWaits: { runs: number; maxMs: number; totalMs: number };
  hookMs: Record<string, Summary>;
  /**
   * Hook runs (journal lines of hook events, jobs left out) by who ran them: the capture service (its
   * note) or a Node the launcher started; per storm phase (lines recorded within its wall time), and
   * `all` (the warm-up too). Absent in result files from before the service.
   */
  hookRunsBy?: Record<string, { service: number; node: number }>;
  /** Each `collect` the plugin runs started: its pid, readiness and how it ended after SIGTERM. */
  captureService?: {
    startedAt: string;
    pid: number;
    exe: string;
    readyMs: number;
    ended: string;
    log: string;
  }[];
  /** VCL_BENCH_SCALE_ACCT=1: CPU of the processes each phase started, by command (process accounting). */
  cpu?: Record<string, CommandCpu[]>;
  /** VCL_BENCH_SCALE_ACCT=1: the capture service's CPU over each plugin phase, s (/proc/PID/stat). */
  collectCpuS?: Record<string, number>;
  targets: Target[];
  details: { title: string; head: string[]; rows: (string | number)[][] }[];
}

/** Every line each guest printed, merged by the reader, checked for gaps, duplicates and lost boots. */
async function checkHistories(host: LabHost, guests: Guest[]): Promise<ScaleBench['history']> {
  const lostOrBroken: string[] = [];
  const bootsPerGuest: Record<string, number> = {};
  let ok = 0;
  let tornByDestroy = 0;
  await pool(guests, 2, async (g) => {
    const r = await host.cli('show', g.uuid);
    // As in the lab tests: a line `virsh destroy` cut short right before the next boot is the guest's own.
    const { text, torn: cut } = dropTornLinesBeforeSeparators(r.stdout);
    tornByDestroy += cut.length;
    const rep = checkHistory(text);
    bootsPerGuest[String(rep.boots.length)] = (bootsPerGuest[String(rep.boots.length)] ?? 0) + 1;
    if (r.exitCode === 0 && rep.ok && rep.boots.length === 3 && cut.length < 3) ok++;
    else {
      // The totals line says what failed when every boot is complete (a torn or malformed line, interleaving).
      const malformed = rep.malformed.slice(0, 3).map((l) => JSON.stringify(l));
      lostOrBroken.push(
        `${g.name}: exit ${r.exitCode}, ${rep.boots.length} boots; ${summariseHistory(rep).split('\n').join('; ')}` +
          (malformed.length ? `; malformed: ${malformed.join(', ')}` : ''),
      );
      // The lab and its store go at the end of the run: the history is what a closer look needs.
      const keep = process.env.VCL_BENCH_SCALE_KEEP;
      if (keep) {
        mkdirSync(keep, { recursive: true });
        writeFileSync(join(keep, `${g.name}.show.txt`), r.stdout);
      }
    }
  });
  return {
    checked: guests.length,
    ok,
    lostOrBroken: lostOrBroken.slice(0, 20),
    bootsPerGuest,
    tornByDestroy,
  };
}

/** The median of a mode's storm runs (0 before its first run). */
function middle(runs: readonly number[]): number {
  return runs.length ? Math.round(summarise(runs).median) : 0;
}

/**
 * Wall time of every storm, per size and mode; plugin / none is the ratio the targets hold to 1.15.
 * `nullHook` (VCL_BENCH_SCALE_FLOOR=1): the same storm with a hook that does nothing, libvirt's cost of
 * running any hook at all, the floor under the plugin's ratio.
 */
export type StormWalls = Record<string, { plugin: number; none: number; nullHook?: number }>;

type StormMode = 'plugin' | 'none' | 'nullHook';
type StormRuns = { plugin: number[]; none: number[]; nullHook?: number[] };

const MODE_TAG: Record<StormMode, string> = { plugin: 'plugin', none: 'no plugin', nullHook: 'null hook' };

/** The modes a run compares: VCL_BENCH_SCALE_MODES, else plugin and none (and nullHook with the floor). */
function stormModes(list: string | undefined, floor: boolean): StormMode[] {
  if (!list) return floor ? ['plugin', 'none', 'nullHook'] : ['plugin', 'none'];
  const modes = [...new Set(list.split(',').map((m) => m.trim()))];
  const bad = modes.filter((m) => !(m in MODE_TAG));
  if (bad.length || modes.length < 2)
    throw new Error(`VCL_BENCH_SCALE_MODES=${list}: two or more of ${Object.keys(MODE_TAG).join(', ')}`);
  return modes as StormMode[];
}

/** The floor's hook: what the plugin's launcher does for an event it ignores (sh starts, exits 0). */
const NULL_HOOK = '#!/bin/sh\nexit 0\n';

export async function benchScale(_repo: string, opts: { quick: boolean }): Promise<ScaleBench> {
  const sizes = (process.env.VCL_BENCH_SCALE_N ?? (opts.quick ? '10' : '200,50'))
    .split(',')
    .map(Number)
    .filter((x) => x > 0);
  const n = sizes[0] ?? 200;
  // One pair per mode is as noisy as the storms' own spread (BENCHMARKS.md): more rounds, medians.
  const rounds = Math.max(1, Number(process.env.VCL_BENCH_SCALE_ROUNDS ?? 1) || 1);
  const modes = stormModes(process.env.VCL_BENCH_SCALE_MODES, process.env.VCL_BENCH_SCALE_FLOOR === '1');
  const withPlugin = modes.includes('plugin');
  const memoryMiB = 16;
  const node = benchNode('/usr/bin/node');
  const nodeDir = node.chosen ? mkdtempSync('/var/tmp/vcl-scale-node-') : undefined;
  if (nodeDir) useNodeInLab(node, nodeDir);
  const hookNode = { path: node.path, version: nodeVersion(node) };
  // Keep every journal line of the run (the default cap would rotate the early ones away).
  const lab = await startLab({ hosts: ['bench-s'], hook: true, config: 'journal_max_bytes = 268435456\n' });
  const acctFile = join(lab.dir, 'pacct');
  let accounting = false;
  // The capture service of the plugin runs, and every one that ran.
  let collect: CaptureService | undefined;
  const services: NonNullable<ScaleBench['captureService']> = [];
  const stopService = async () => {
    if (!collect) return;
    const c = collect;
    collect = undefined;
    const ended = await stopCollect(c);
    services.push({
      startedAt: c.startedAt,
      pid: c.pid,
      exe: c.exe,
      readyMs: c.readyMs,
      ended,
      log: c.log().split('\n').slice(0, 20).join('\n'),
    });
  };
  try {
    if (process.env.VCL_BENCH_SCALE_ACCT === '1') {
      writeFileSync(acctFile, '', { mode: 0o600 });
      accounting = await startAccounting(acctFile);
      if (!accounting) throw new Error('VCL_BENCH_SCALE_ACCT=1: `accton` (package acct) missing or refused');
    }
    const host = lab.host('bench-s');
    const sector = join(lab.imagesDir, 'seqguest-idle.bin');
    await execa('nasm', ['-f', 'bin', '-DIDLE_TICKS=1', '-o', sector, GUEST_ASM]);
    const all: Guest[] = [];
    for (let i = 0; i < Math.max(...sizes); i++)
      all.push(await idleGuest(lab, `scale-${String(i).padStart(3, '0')}`, memoryMiB, sector));
    await pool(all, 4, (g) => define(host, g));

    const phases: ScaleBench['phases'] = {};
    const waits: ScaleBench['waits'] = {};
    const storms: StormWalls = {};
    // The lab starts with the plugin's hook in place.
    let hookNow: StormMode = 'plugin';
    const useHook = async (mode: StormMode) => {
      if (mode === hookNow) return;
      if (mode === 'none') await host.removeHook();
      else await host.installHook(mode === 'nullHook' ? NULL_HOOK : undefined);
      hookNow = mode;
    };
    const stormRuns: NonNullable<ScaleBench['stormRuns']> = {};
    const collectCpuS: Record<string, number> = {};
    // The plugin as installed: the capture service runs before libvirt starts guests (its unit orders
    // itself before libvirtd), and answers their hook events.
    // Without the plugin among the modes, the warm-up runs in the first one listed.
    const warmMode = withPlugin ? 'plugin' : (modes[0] as StormMode);
    if (withPlugin) collect = await startCollect(host, node);
    else await useHook(warmMode);
    // Warm-up, as after a host reboot: every guest started once with the plugin, its definition upgraded
    // by the automatic mode (a one-time job per guest that would otherwise run inside the first storm).
    const warmT0 = Date.now();
    const warmStarts = await Promise.all(all.map((g) => virsh(host, 'start', g.name)));
    waits[`warm-up: every start returned (${MODE_TAG[warmMode]}; silent = failed starts)`] = {
      ms: Date.now() - warmT0,
      silent: warmStarts.filter((r) => !r.ok).length,
    };
    const warm = await waitForOutput(host, all, new Map(), 20, 120_000 + all.length * 1000);
    waits[`output of the warm-up boot (${MODE_TAG[warmMode]})`] = { ms: warm.ms, silent: warm.silent.length };
    if (withPlugin) {
      const warmJobs = await waitForJobs(all, 900_000);
      waits['warm-up: detached jobs done (definition upgrades)'] = { ms: warmJobs.ms, silent: warmJobs.left };
    }
    await Promise.all(all.map((g) => virsh(host, 'destroy', g.name)));
    let history: ScaleBench['history'] | undefined;
    // VCL_BENCH_SCALE_WARMUP_ONLY=1: the warm-up alone (its storm and the definition upgrades it starts),
    // to look at those jobs under load without the storms after it.
    for (const size of process.env.VCL_BENCH_SCALE_WARMUP_ONLY === '1' ? [] : sizes) {
      const guests = all.slice(0, size);
      const outputTimeout = 120_000 + size * 1000;
      // Plugin first: the history check needs the plugin to have seen every boot of the first size.
      // Further rounds rotate the order (plugin, none; none, plugin; ...), so that no mode always runs
      // on the machine another one just warmed or loaded.
      const order = Array.from({ length: rounds }, (_, r) =>
        modes.map((_m, i) => modes[(i + r) % modes.length] as StormMode),
      );
      for (const [round, mode] of order.flatMap((ms, r) => ms.map((m) => [r + 1, m] as const))) {
        if (mode !== 'plugin') await stopService();
        await useHook(mode);
        if (mode === 'plugin' && !collect) collect = await startCollect(host, node);
        const tag = `N=${size}, ${MODE_TAG[mode]}${rounds > 1 ? `, round ${round}` : ''}`;
        const phase = async (
          name: string,
          fn: (g: Guest) => Promise<{ ok: boolean; ms: number; err: string }>,
        ) => {
          const service = accounting ? collect : undefined;
          const cpu0 = service ? cpuSeconds(service.pid) : 0;
          const t0 = Date.now();
          const rs = await Promise.all(guests.map(fn));
          const bad = rs.filter((r) => !r.ok);
          const wallMs = Date.now() - t0;
          if (service)
            collectCpuS[`${name} (${tag})`] = Math.round((cpuSeconds(service.pid) - cpu0) * 100) / 100;
          phases[`${name} (${tag})`] = {
            startedAt: new Date(t0).toISOString(),
            wallMs,
            failures: bad.length,
            firstError: bad[0]?.err ?? '',
            perGuest: summarise(rs.map((r) => r.ms)),
          };
          const key = `${name} N=${size}`;
          const runs = (stormRuns[key] ??= { plugin: [], none: [] });
          (runs[mode] ??= []).push(wallMs);
          storms[key] = {
            plugin: middle(runs.plugin),
            none: middle(runs.none),
            ...(runs.nullHook ? { nullHook: middle(runs.nullHook) } : {}),
          };
        };
        await phase('start', (g) => virsh(host, 'start', g.name));
        const start = await waitForOutput(host, guests, new Map(), 20, outputTimeout);
        waits[`output of boot 1 (${tag})`] = { ms: start.ms, silent: start.silent.length };
        await phase('restart (destroy + start)', async (g) => {
          const d = await virsh(host, 'destroy', g.name);
          if (!d.ok) return d;
          const s = await virsh(host, 'start', g.name);
          return { ok: s.ok, ms: d.ms + s.ms, err: s.err };
        });
        const w2 = await waitForOutput(host, guests, start.boots, 20, outputTimeout);
        waits[`output of boot 2 (${tag})`] = { ms: w2.ms, silent: w2.silent.length };
        await phase('stop (destroy)', (g) => virsh(host, 'destroy', g.name));
        if (mode === 'plugin') {
          // The jobs the hook left behind (definition upgrade at nice 19) would slow the baseline's storm.
          const jobs = await waitForJobs(guests, 600_000);
          waits[`detached jobs done (${tag})`] = { ms: jobs.ms, silent: jobs.left };
          if (!history) history = await checkHistories(host, guests);
        }
      }
    }
    await stopService();
    let cpu: ScaleBench['cpu'];
    if (accounting) {
      await stopAccounting();
      accounting = false;
      const records = parseAcct(readFileSync(acctFile));
      cpu = Object.fromEntries(
        Object.entries(phases).map(([k, p]) => {
          const t0 = Date.parse(p.startedAt);
          return [k, cpuByCommand(records, t0, t0 + p.wallMs)];
        }),
      );
    }
    const hist = history ?? { checked: 0, ok: 0, lostOrBroken: [], bootsPerGuest: {} };
    const { ok, lostOrBroken } = hist;
    const j = journal(host);
    const failed = j.filter((e) => e.failed || e.problems.length > 0);
    const waitsMs = j
      .flatMap((e) => e.notes)
      .map((note) => /waited (\d+) ms for the domain lock/.exec(note))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => Number(m[1]));
    const answered = (e: JournalLine) => (e.notes ?? []).includes(SERVICE_NOTE);
    const byEvent = new Map<string, number[]>();
    for (const e of j) {
      const key = `${e.op} ${e.subop}${answered(e) ? ' (capture service)' : ''}`;
      byEvent.set(key, [...(byEvent.get(key) ?? []), e.ms]);
    }
    const hookMs = Object.fromEntries([...byEvent].map(([k, v]) => [k, summarise(v)]));
    // Who ran each hook run: a silent fallback to Node (the service not there, late, or refusing the
    // event) shows here as runs without the service's note.
    const hookRuns = j.filter(isHookRun);
    const by = (es: JournalLine[]) => {
      const service = es.filter(answered).length;
      return { service, node: es.length - service };
    };
    const hookRunsBy: NonNullable<ScaleBench['hookRunsBy']> = { all: by(hookRuns) };
    // Per plugin storm: the hook runs recorded within its wall time, by who ran them and by event.
    const hookMsByPhase: NonNullable<ScaleBench['hookMsByPhase']> = {};
    for (const [k, p] of Object.entries(phases)) {
      if (!/, plugin(, round \d+)?\)$/.test(k)) continue;
      const t0 = Date.parse(p.startedAt);
      const inPhase = hookRuns.filter((e) => Date.parse(e.at) >= t0 && Date.parse(e.at) <= t0 + p.wallMs);
      hookRunsBy[k] = by(inPhase);
      const ms = new Map<string, number[]>();
      for (const e of inPhase) ms.set(`${e.op} ${e.subop}`, [...(ms.get(`${e.op} ${e.subop}`) ?? []), e.ms]);
      hookMsByPhase[k] = Object.fromEntries([...ms].map(([ev, v]) => [ev, summarise(v)]));
    }
    const runsBy = hookRunsBy.all ?? { service: 0, node: 0 };
    const libvirtdHookErrors = host
      .libvirtdLog()
      .split('\n')
      .filter((l) => /hook|virt-consolelog/i.test(l) && /error/i.test(l))
      .slice(0, 20);
    const failures = Object.values(phases).reduce((s, p) => s + p.failures, 0);
    // Without the plugin in the run there is no journal, history or service to check: not missed.
    const ofPlugin = (t: Target): Target =>
      withPlugin ? t : { ...t, met: undefined, note: 'the plugin was not among VCL_BENCH_SCALE_MODES' };
    const targets: Target[] = [
      ofPlugin({
        id: 'scale.hook-failures',
        what: `${sizes.join(' and ')} guests started at once, restarted at once, stopped: hook failures (journal: failed or problems; libvirtd log: hook errors) and failed virsh operations`,
        limit: '0',
        measured: `${failed.length} hook runs with problems of ${j.length}; ${libvirtdHookErrors.length} hook errors in libvirtd.log; ${failures} virsh operations failed`,
        met: failed.length === 0 && libvirtdHookErrors.length === 0 && failures === 0 && n >= 200,
        ...(n < 200 ? { note: `N = ${n}, not 200` } : {}),
      }),
      ofPlugin({
        id: 'scale.lost-lines',
        what: `${n} guests: merged history (show) of every guest complete (3 boots: warm-up, start, restart; each from seq 0, no gap, no duplicate)`,
        limit: '0 lost lines',
        measured: `${ok}/${n} complete; ${lostOrBroken.length} with gaps, duplicates or missing boots; ${hist.tornByDestroy ?? 0} boot(s) ending in a line cut short by destroy (the guest's own, as in the lab tests)`,
        met: ok === n && n >= 200,
      }),
      ofPlugin({
        id: 'scale.hook-runs-by-service',
        what: 'hook runs with the plugin (warm-up and storms) answered by the capture service vs by a Node the launcher started (journal notes)',
        limit: 'reported; the service answers',
        measured:
          `${runsBy.service} by the service, ${runsBy.node} by a Node start, of ${hookRuns.length}; ` +
          Object.entries(hookRunsBy)
            .filter(([k]) => k !== 'all')
            .map(([k, b]) => `${k.replace(/, plugin(, round \d+)?\)$/, '$1)')}: ${b.service} / ${b.node}`)
            .join('; '),
        met: runsBy.service > 0,
      }),
      {
        id: 'scale.lock-waits',
        what: 'domain lock waits noted by hook runs (prepare notes waits > 100 ms)',
        limit: 'reported',
        measured: `${waitsMs.length} runs waited; max ${waitsMs.length ? Math.max(...waitsMs) : 0} ms`,
        met: undefined,
      },
      ...Object.entries(storms)
        .filter(([name]) => !name.startsWith('stop') && withPlugin)
        .map(([name, w]): Target => {
          const r = ratio(w.plugin, w.none);
          return {
            id: `scale.storm.${name.replace(/[^a-zA-Z0-9=]+/g, '-')}`,
            what: `${name.replace(/ N=\d+$/, '')} storm, ${name.replace(/^.* N=/, '')} guests at once: wall time plugin / no plugin (${rounds > 1 ? `medians of ${rounds} runs each` : 'one run each'}, same guests)`,
            limit: '<= 1.15',
            measured:
              `${w.plugin} ms / ${w.none} ms = ${r}` +
              (rounds > 1
                ? ` (plugin ${stormRuns[name]?.plugin.join(', ')} ms; none ${stormRuns[name]?.none.join(', ')} ms)`
                : ''),
            met: r <= 1.15,
          };
        }),
      ...Object.entries(storms)
        .filter(([name, w]) => !name.startsWith('stop') && w.nullHook !== undefined)
        .map(([name, w]): Target => {
          const runs = stormRuns[name];
          const hook = w.nullHook ?? 0;
          return {
            id: `scale.storm-floor.${name.replace(/[^a-zA-Z0-9=]+/g, '-')}`,
            what: `${name.replace(/ N=\d+$/, '')} storm, ${name.replace(/^.* N=/, '')} guests: the floor, a hook that does nothing (sh, exit 0) / no hook, and the plugin / that hook`,
            limit: 'reported',
            measured:
              `null hook ${hook} ms: ${ratio(hook, w.none)} of no hook` +
              (withPlugin ? `; plugin ${ratio(w.plugin, hook)} of the null hook` : '; plugin not run') +
              (rounds > 1 ? ` (null hook ${runs?.nullHook?.join(', ')} ms)` : ''),
            met: undefined,
          };
        }),
    ];
    return {
      node: hookNode,
      guests: n,
      memoryMiB,
      phases,
      waits,
      history: hist,
      storms,
      stormRuns,
      hookMsByPhase,
      hookRuns: j.length,
      hookFailures: failed.length,
      hookProblems: failed
        .slice(0, 10)
        // A job's problem is only its outcome ("gave up"): its last notes say why.
        .map(
          (e) =>
            `${e.domain} ${e.op} ${e.subop}: ${e.problems.join('; ').slice(0, 300)}` +
            (e.subop === 'job'
              ? ` (last notes: ${(e.notes ?? []).slice(-4).join(' | ').slice(0, 600)})`
              : ''),
        ),
      libvirtdHookErrors,
      lockWaits: {
        runs: waitsMs.length,
        maxMs: waitsMs.length ? Math.max(...waitsMs) : 0,
        totalMs: waitsMs.reduce((a, b) => a + b, 0),
      },
      hookMs,
      hookRunsBy,
      captureService: services,
      ...(cpu ? { cpu, collectCpuS } : {}),
      targets,
      details: [
        ...(cpu ? [cpuTable(cpu, collectCpuS)] : []),
        {
          title:
            'Hook runs by who ran them (journal: the note of the capture service, or none: a Node the launcher started); per storm, the runs recorded within its wall time',
          head: ['phase', 'capture service', 'Node start'],
          rows: Object.entries(hookRunsBy).map(([k, b]) => [
            k === 'all' ? 'all (warm-up included)' : k,
            b.service,
            b.node,
          ]),
        },
        {
          title:
            'The capture service (`collect`) of the plugin runs: started before them, ready once its requests FIFO and pid file are there, stopped with SIGTERM',
          head: ['started', 'pid', 'Node', 'ready after ms', 'ended'],
          rows: services.map((c) => [c.startedAt, c.pid, c.exe, c.readyMs, c.ended]),
        },
        {
          title: `Node ${hookNode.version} (${hookNode.path}); with the plugin: the hook and the capture service; ${n} sequence guests (TCG, ${memoryMiB} MiB, a line every BIOS tick (55 ms) with hlt in between, OpenStack-style file serial) on one lab host`,
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
          title:
            'Hook run time in each storm with the plugin (journal lines recorded within its wall time; ms inside the capture service or Node)',
          head: ['phase', 'event', 'median', 'p90', 'max', 'runs'],
          rows: Object.entries(hookMsByPhase).flatMap(([k, evs]) =>
            Object.entries(evs).map(([ev, v]) => [k, ev, v.median, v.p90, v.max, v.n]),
          ),
        },
        {
          title:
            'Hook run time under this load, from the plugin journal (ms inside Node: the capture service, or a Node the launcher started)',
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
    await stopService().catch(() => undefined);
    if (accounting) await stopAccounting();
    keepLogs(lab);
    await lab.stop();
    if (nodeDir) {
      execFileSync('umount', ['/etc'], { stdio: 'ignore' });
      rmSync(nodeDir, { recursive: true, force: true });
    }
  }
}

/**
 * VCL_BENCH_NODE (e.g. Debian 12's Node unpacked with dpkg -x): the lab host's hook and its jobs run
 * that Node, found as an installed host finds it. Laid out in this process's private mount namespace
 * before the lab starts, so that the host's namespace (unshare from here) inherits it: the Node's
 * builtins over /usr/share, and /etc overlaid (writes in `dir`) with the /etc/default/virt-consolelog
 * the launcher reads, naming the Node, its libraries and a 0700 snapshot folder (the package's).
 */
function useNodeInLab(node: BenchNode, dir: string): void {
  overlayNodeShare(node); // throws unless run under `unshare -m --propagation private`
  const up = join(dir, 'etc-up');
  const work = join(dir, 'etc-work');
  const cache = join(dir, 'snapshot-cache');
  mkdirSync(up);
  mkdirSync(work);
  mkdirSync(cache, { mode: 0o700 });
  execFileSync('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=/etc,upperdir=${up},workdir=${work}`,
    '/etc',
  ]);
  mkdirSync('/etc/default', { recursive: true });
  writeFileSync(
    '/etc/default/virt-consolelog',
    `VIRT_CONSOLELOG_NODE=${node.path}\n` +
      (node.libs ? `LD_LIBRARY_PATH=${node.libs}\n` : '') +
      `VIRT_CONSOLELOG_SNAPSHOT_DIR=${cache}\n`,
  );
}

/** VCL_BENCH_SCALE_KEEP=DIR: the plugin's journal and the daemons' logs are copied there for a closer look
 * (and, by checkHistories, the `show` output of every guest whose history failed the check). */
function keepLogs(lab: Lab): void {
  const keep = process.env.VCL_BENCH_SCALE_KEEP;
  if (!keep) return;
  const host = lab.host('bench-s');
  mkdirSync(keep, { recursive: true });
  cpSync(host.paths.varLibVcl, join(keep, 'var-lib-virt-consolelog'), { recursive: true });
  writeFileSync(join(keep, 'libvirtd.log'), host.libvirtdLog());
  writeFileSync(join(keep, 'virtlogd.log'), host.virtlogdLog());
}

/** The hook's process name in accounting: its file name, cut to the kernel's 15 bytes (TASK_COMM_LEN). */
const HOOK_COMM = HOOK_NAME.slice(0, 15);

/** The hook script's runs in a phase: their CPU, and how long libvirt waited for the median one. */
function hookRuns(c: CommandCpu | undefined): string {
  return c ? `${c.cpuS.toFixed(1)} s (${c.processes}; ${Math.round(c.elapsedMedianS * 1000)} ms)` : '-';
}

/**
 * Per phase: all CPU of the processes it started, and Node's, virsh's and QEMU's share of it; beside it
 * the capture service's CPU over the phase (it started before: accounting has no record of it yet).
 */
function cpuTable(
  cpu: Record<string, CommandCpu[]>,
  collectCpuS: Record<string, number>,
): ScaleBench['details'][number] {
  const of = (cs: CommandCpu[], re: RegExp) => {
    const m = cs.filter((c) => re.test(c.command));
    const n = m.reduce((a, c) => a + c.processes, 0);
    const s = m.reduce((a, c) => a + c.cpuS, 0);
    return n ? `${s.toFixed(1)} s (${n}, ${Math.round((s / n) * 1000)} ms each)` : '-';
  };
  return {
    title:
      'CPU of the processes each phase started (process accounting, VCL_BENCH_SCALE_ACCT=1; QEMU counted until it exits)',
    head: [
      'phase',
      'all, s',
      'node (hook runs and jobs)',
      'virsh',
      'qemu',
      'hook script (sh; its median run, start to exit)',
      'collect (capture service, over the phase), s',
    ],
    rows: Object.entries(cpu).map(([k, cs]) => [
      k,
      cs.reduce((a, c) => a + c.cpuS, 0).toFixed(1),
      of(cs, /^node$/),
      of(cs, /^virsh$/),
      of(cs, /^qemu|^CPU \d+\/TCG$/),
      hookRuns(cs.find((c) => c.command.startsWith(HOOK_COMM))),
      collectCpuS[k]?.toFixed(2) ?? '-',
    ]),
  };
}
