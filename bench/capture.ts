// Issue 17: the capture service (`virt-consolelog collect`, the built CLI, as its own process).
// 1. Scale: N domains (200) each printing 10 lines/s of 80 bytes into its live file; the service's
//    CPU (utime + stime from /proc/PID/stat over the wall time, and over its second half: the steady
//    state after each new file's first seal) and RSS (VmRSS, sampled each second).
// 2. Rate: one domain with virtlogd's rotation (max_size 4096, max_backups 1: the writer renames the
//    live file to .0 and deletes the old .0 at each rollover, the file operations virtlogd does);
//    rising print rates, 10 s each; bytes in the store (read back with the reader) against bytes
//    printed: the highest rate with 0 loss.
// The writer is this process and writes as virtlogd does (append, rename, unlink); no QEMU/virtlogd,
// so the figures are the service's own. Run: node --import tsx bench/capture.ts [--quick], or as the
// `capture` section of `npm run bench` (200 guests; the rate part unless --quick).
// journald_forward is left at its default (on): the service reads and encodes every line for the
// journal; where /run/systemd/journal/socket is missing the sink drops them (the result says which).
import { execa, type ResultPromise } from 'execa';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { withHost } from '../src/store/domain-state.js';
import { liveLogPath } from '../src/store/layout.js';
import { sealHost } from '../src/store/seal.js';
import { withStore } from '../src/store/session.js';
import { readHistory } from '../src/history/reader.js';
import { DEFAULTS, type Config } from '../src/config/schema.js';
import { CLI_JS } from '../test/lab/harness.js';
import { benchNode, nodeEnv, nodeVersion, overlayNodeShare } from './lib/node.js';
import type { Target } from './lib/result.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function setup(maxSize: number): {
  base: string;
  config: Config;
  confFile: string;
  env: Record<string, string>;
} {
  const base = fs.mkdtempSync(join(tmpdir(), 'vcl-bench-capture-'));
  const config: Config = {
    ...(structuredClone({ ...DEFAULTS }) as Config),
    logRoot: join(base, 'store'),
    liveDir: join(base, 'live'),
    stateDir: join(base, 'state'),
    hostName: 'bench',
    domainCapBytes: 0,
  };
  fs.mkdirSync(config.liveDir, { recursive: true });
  const confFile = join(base, 'virt-consolelog.conf');
  fs.writeFileSync(
    confFile,
    `log_root = "${config.logRoot}"\nlive_dir = "${config.liveDir}"\nstate_dir = "${config.stateDir}"\nhost_name = "bench"\ndomain_cap_bytes = 0\nauto_enable = 0\n`,
  );
  fs.writeFileSync(join(base, 'virtlogd.conf'), `max_size = ${maxSize}\nmax_backups = 1\n`);
  return {
    base,
    config,
    confFile,
    env: { VIRT_CONSOLELOG_VIRTLOGD_CONF: join(base, 'virtlogd.conf') },
  };
}

const uuidOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

async function domains(config: Config, n: number): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const path = liveLogPath(config.liveDir, uuidOf(i), 'serial0');
    await withStore(config, uuidOf(i), (s) => {
      s.domain = withHost(s.domain, 'bench', {
        generation: 1,
        devices: { serial0: { path, kind: 'log', truncating: false } },
      });
    });
    paths.push(path);
  }
  return paths;
}

/** Node options for the service process only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (split on spaces). */
const serviceNodeArgs = (process.env.VCL_BENCH_CAPTURE_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** VCL_BENCH_NODE (and _LIBS): the Node the service runs on, e.g. Debian 12's unpacked (run under `unshare -m`). */
const serviceNode = benchNode(process.execPath);
let shareOverlaid = false;

function startService(confFile: string, env: Record<string, string>): ResultPromise {
  if (!shareOverlaid) overlayNodeShare(serviceNode); // Debian's Node unpacked: its builtins at /usr/share/nodejs
  shareOverlaid = true;
  // It answers hook events as installed, in a folder of its own: never the machine's /run one.
  const hookServer = join(dirname(confFile), 'hook-server');
  return execa(
    serviceNode.path,
    // VCL_BENCH_CAPTURE_CLI: another built CLI (to compare two builds in one session, interleaved).
    [...serviceNodeArgs, process.env.VCL_BENCH_CAPTURE_CLI || CLI_JS, '--config', confFile, 'collect'],
    {
      env: nodeEnv(serviceNode, { ...env, VIRT_CONSOLELOG_HOOK_SERVER: hookServer }) as Record<
        string,
        string
      >,
      reject: false,
    },
  );
}

function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

async function loadavg(): Promise<string> {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Writes like virtlogd: append; a write that would pass max_size first rolls the file over. */
function writer(path: string, maxSize: number) {
  let size = 0;
  return (data: Buffer) => {
    if (size > 0 && size + data.length > maxSize) {
      fs.rmSync(`${path}.0`, { force: true });
      fs.renameSync(path, `${path}.0`);
      size = 0;
    }
    fs.appendFileSync(path, data);
    size += data.length;
  };
}

async function scale(n: number, seconds: number) {
  const { config, confFile, env, base } = setup(2 * 1024 * 1024);
  const paths = await domains(config, n);
  const svc = startService(confFile, env);
  const pid = svc.pid as number;
  await sleep(3000); // discovery, first seals
  const writers = paths.map((p) => writer(p, 2 * 1024 * 1024));
  let seq = 0;
  const line = (i: number) =>
    Buffer.from(`[${String(seq).padStart(8)}] guest ${i} some console output line 0123456789abcdef\n`);
  const ticks0 = cpuTicks(pid);
  const t0 = Date.now();
  let maxRss = 0;
  const rss: number[] = [];
  let next = t0;
  // The first writes create the live files: the window opens with one first seal per guest.
  // The second half of the window is the steady state (every file known, nothing to seal).
  let half: { ticks: number; at: number } | undefined;
  while (Date.now() - t0 < seconds * 1000) {
    if (!half && Date.now() - t0 >= (seconds * 1000) / 2) half = { ticks: cpuTicks(pid), at: Date.now() };
    seq++;
    for (let i = 0; i < n; i++) (writers[i] as (d: Buffer) => void)(line(i));
    if (seq % 10 === 0) {
      const r = rssKiB(pid);
      rss.push(r);
      maxRss = Math.max(maxRss, r);
    }
    next += 100;
    await sleep(Math.max(0, next - Date.now()));
  }
  const wall = (Date.now() - t0) / 1000;
  const ticks1 = cpuTicks(pid);
  const cpu = (ticks1 - ticks0) / 100 / wall; // CLK_TCK = 100 on Linux
  const h = half ?? { ticks: ticks0, at: t0 };
  const cpuSteady = (ticks1 - h.ticks) / 100 / Math.max(0.001, (Date.now() - h.at) / 1000);
  svc.kill('SIGTERM');
  await svc;
  const status = JSON.parse(fs.readFileSync(join(config.stateDir, 'capture', 'status.json'), 'utf8')) as {
    devices: { lostBytes: number }[];
  };
  const journald = journaldState(config.stateDir);
  fs.rmSync(base, { recursive: true, force: true });
  return {
    domains: n,
    linesPerSecondEach: 10,
    seconds: Math.round(wall),
    cpuPercentOfOneCore: Math.round(cpu * 1000) / 10,
    cpuPercentSecondHalf: Math.round(cpuSteady * 1000) / 10,
    rssMiBMax: Math.round(maxRss / 102.4) / 10,
    rssMiBMedian: Math.round((rss.sort((a, b) => a - b)[rss.length >> 1] ?? 0) / 102.4) / 10,
    lostBytes: status.devices.reduce((x, d) => x + d.lostBytes, 0),
    journald,
    load: await loadavg(),
  };
}

/** What the service's journald sink did, from the figures it published. */
function journaldState(stateDir: string): string {
  try {
    const f = JSON.parse(fs.readFileSync(join(stateDir, 'journald.json'), 'utf8')) as {
      problem: string | null;
    };
    return f.problem
      ? `sink on, lines read and encoded, not sent: ${f.problem}`
      : 'sink on, lines sent to journald';
  } catch {
    return 'no journald figures (sink off?)';
  }
}

async function rate(bytesPerSecond: number, seconds: number, maxSize: number) {
  const { config, confFile, env, base } = setup(maxSize);
  const [path] = await domains(config, 1);
  const svc = startService(confFile, env);
  await sleep(2500);
  const write = writer(path as string, maxSize);
  const chunkEveryMs = 10;
  const perChunk = Math.max(1, Math.round((bytesPerSecond * chunkEveryMs) / 1000));
  let printed = 0;
  let seq = 0;
  let pending = '';
  const t0 = Date.now();
  let next = t0;
  while (Date.now() - t0 < seconds * 1000) {
    while (pending.length < perChunk) pending += `seq=${seq++} ${'x'.repeat(40)}\n`;
    const chunk = Buffer.from(pending.slice(0, perChunk));
    pending = pending.slice(perChunk);
    write(chunk);
    printed += chunk.length;
    next += chunkEveryMs;
    await sleep(Math.max(0, next - Date.now()));
  }
  await sleep(1000);
  svc.kill('SIGTERM');
  await svc;
  await sealHost(config, uuidOf(0), 'bench', 'stop');
  let kept = 0;
  for await (const e of readHistory(config, uuidOf(0))) if (e.type === 'data') kept += e.data.length;
  fs.rmSync(base, { recursive: true, force: true });
  return { maxSize, bytesPerSecond, printed, kept, lost: printed - kept, load: await loadavg() };
}

type Scale = Awaited<ReturnType<typeof scale>>;
type Rate = Awaited<ReturnType<typeof rate>>;

/** Rates tried per virtlogd max_size (KiB/s): max_size 4096 is the issue's case (a rollover every 4 KiB). */
function rateCases(quick: boolean): [number, number[]][] {
  return quick
    ? [[4096, [4, 64]]]
    : [
        [4096, [2, 4, 8, 16, 64]],
        [2 * 1024 * 1024, [1024, 4096, 16384]],
      ];
}

async function rates(quick: boolean, each?: (r: Rate) => void): Promise<Rate[]> {
  const out: Rate[] = [];
  for (const [maxSize, kibs] of rateCases(quick))
    for (const kib of kibs) {
      const r = await rate(kib * 1024, quick ? 5 : 10, maxSize);
      each?.(r);
      out.push(r);
    }
  return out;
}

/** Highest rate (bytes/s) of those tried with `maxSize` that lost nothing, with every lower rate lossless too. */
function highestLossless(rs: readonly Rate[], maxSize: number): number | undefined {
  let best: number | undefined;
  for (const r of rs
    .filter((x) => x.maxSize === maxSize)
    .sort((a, b) => a.bytesPerSecond - b.bytesPerSecond)) {
    if (r.lost !== 0) break;
    best = r.bytesPerSecond;
  }
  return best;
}

/** The `capture` section of `npm run bench`: 200 guests (20 s when quick, else 60 s); the rate part unless quick. */
export async function benchCapture(
  _repo: string,
  opts: { quick: boolean },
): Promise<{ targets: Target[]; scale: Scale; rates: Rate[] }> {
  const s = await scale(200, opts.quick ? 20 : 60);
  const rs = opts.quick ? [] : await rates(false);
  const targets: Target[] = [
    {
      id: 'capture-cpu',
      what: `\`collect\`, 200 guests x 10 lines/s of 80 bytes: CPU (utime + stime) over the window (Node ${nodeVersion(serviceNode)})`,
      limit: '< 5 % of one core',
      measured: `${s.cpuPercentOfOneCore} % (second half of the window: ${s.cpuPercentSecondHalf} %); load ${s.load}; journald: ${s.journald}`,
      met: s.cpuPercentOfOneCore < 5,
    },
    {
      id: 'capture-rss',
      what: '`collect`, 200 guests: RSS (VmRSS sampled each second)',
      limit: '< 100 MiB',
      measured: `${s.rssMiBMax} MiB at most, median ${s.rssMiBMedian} MiB`,
      met: s.rssMiBMax < 100,
    },
    {
      id: 'capture-lost',
      what: '`collect`, 200 guests: bytes deleted by virtlogd before the store held them',
      limit: '0',
      measured: String(s.lostBytes),
      met: s.lostBytes === 0,
    },
  ];
  if (!opts.quick)
    for (const maxSize of [4096, 2 * 1024 * 1024]) {
      const best = highestLossless(rs, maxSize);
      const tried = rs.filter((r) => r.maxSize === maxSize);
      targets.push({
        id: `capture-rate-${maxSize}`,
        what: `one guest, virtlogd max_size ${maxSize}, max_backups 1: highest print rate with 0 bytes lost`,
        limit: maxSize === 4096 ? '>= 270 B/s (the guest of issue 17)' : 'reported',
        measured:
          `${best === undefined ? 'none' : `${best / 1024} KiB/s`} (` +
          tried.map((r) => `${r.bytesPerSecond / 1024} KiB/s: ${r.lost} lost`).join(', ') +
          `; load ${tried.at(-1)?.load ?? '?'})`,
        met: maxSize === 4096 ? (best ?? 0) >= 270 : undefined,
      });
    }
  return { targets, scale: s, rates: rs };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const out: Record<string, unknown> = {
    at: new Date().toISOString(),
    quick,
    node: nodeVersion(serviceNode),
  };
  const only = process.env.VCL_BENCH_CAPTURE_ONLY; // "scale" or "rate"
  const n = Number(process.env.VCL_BENCH_CAPTURE_N ?? (quick ? 20 : 200));
  const scaleSeconds = Number(process.env.VCL_BENCH_CAPTURE_SECONDS ?? (quick ? 10 : 60));
  if (only !== 'rate') {
    out.scale = await scale(n, scaleSeconds);
    console.log(JSON.stringify(out.scale));
  }
  out.rates = only !== 'scale' ? await rates(quick, (r) => console.log(JSON.stringify(r))) : [];
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync('bench/results/capture.json', JSON.stringify(out, null, 2) + '\n');
}

// Run as a script (not when bench/run.ts imports the section).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
