// Runs INSIDE `unshare -m` (started by bench/hook.ts): times hook runs spawned the way libvirt spawns
// them and prints one JSON object on stdout. Never run directly: it mounts over /etc and /var/lib.
//
// Timing uses node:child_process spawnSync rather than execa (the house rule for src/): the harness's own
// overhead is part of every sample, baseline included, so it must be as small as possible.
//
// The capture service runs as installed (the packages start it by default): a `collect` of this
// namespace's config answers the launcher's handled events through a private 0700 folder
// (VIRT_CONSOLELOG_HOOK_SERVER); each handled event is timed through it and plainly
// (VIRT_CONSOLELOG_HOOK_SERVER=0: the launcher starts Node) in the same shuffled rounds.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { bootLog } from './lib/bootlog.js';
import { domainXml } from './lib/domainxml.js';
import { liveLogPath } from '../src/store/layout.js';
import { SERVICE_NOTE } from '../src/lifecycle/run.js';
import { readText } from './lib/machine.js';
import { benchNode, overlayNodeShare } from './lib/node.js';
import { enterSandbox, writeConfig } from './lib/sandbox.js';
import { prng, shuffled, summarise, type Summary } from './lib/stats.js';

interface Args {
  root: string;
  repo: string;
  parentNamespace: string;
  shellRounds: number;
  nodeRounds: number;
  sealBytes: number;
  bigXmlBytes: number;
  /** Extra rounds run under /usr/bin/time for CPU time (user + sys), which the machine's load inflates less. */
  cpuRounds: number;
}

interface Case {
  name: string;
  /**
   * Which target group it belongs to, for the report: `handled` runs the event plainly (the launcher
   * starts Node), `service` the same event through the running capture service (its `twin` is the plain
   * case), `snapshot-off` plainly without the launcher's start-up snapshot.
   */
  group: 'baseline' | 'ignored' | 'handled' | 'service' | 'snapshot-off';
  argv: string[];
  exe: string;
  stdin: string;
  /**
   * Added to the hook's environment: VIRT_CONSOLELOG_HOOK_SERVER (the service's folder, or 0 for a plain
   * run), VIRT_CONSOLELOG_SNAPSHOT=0 for the plain start in the same rounds.
   */
  env?: Record<string, string>;
  /** `service` cases: the plain case of the same event, whose output this one's must equal. */
  twin?: string;
  reset?: () => void;
  /** Checked after the first run; a string describes what was verified (or why not). */
  verify?: (stdout: Buffer) => string;
}

export interface CaseResult {
  name: string;
  group: string;
  exe: string;
  argv: string[];
  stdinBytes: number;
  ms: Summary;
  /**
   * CPU time (user + sys) of the hook process and its children, from separate runs; for `service` cases
   * plus what the capture service spent meanwhile (`service.cpuMs`).
   */
  cpuMs: Summary;
  nonZeroExits: number;
  stderrSample: string;
  stdoutBytes: number;
  verified: string;
  /** `service` cases: who ran each run (the journal entry's pid and notes) and whether the output matched. */
  service?: ServiceRuns;
}

export interface ServiceRuns {
  /** Runs (warm-up, timed and CPU runs) whose journal entry the capture service wrote, with its note. */
  answered: number;
  /** Runs whose entry a Node started by the launcher wrote: the launcher fell back to Node. */
  node: number;
  /** Runs without a journal entry of their own, or with one that is neither. */
  unknown: number;
  /** Warm-up and timed runs whose stdout differs from the plain case's first run. */
  outputDiffers: number;
  /** The capture service's CPU (all its threads, /proc/PID/task/TID/schedstat) during each CPU run. */
  cpuMs: Summary;
}

/** What the bench's capture service was and did; in the result beside the cases. */
export interface ServiceInfo {
  /** The folder it answered in (VIRT_CONSOLELOG_HOOK_SERVER, a 0700 temp folder of root). */
  dir: string;
  /** The Node it ran on (the hook's: VCL_BENCH_NODE or /usr/bin/node), from /proc/PID/exe. */
  node: string;
  pid: number;
  /** ms from its start until its requests FIFO and pid file were there. */
  readyMs: number;
  /** Its CPU over all rounds of handled events (both forms, idle sweeps included), ms. */
  cpuMsOverNodeRounds: number;
  /** Events it answered over those rounds (from the journal: entries with its pid and note). */
  answeredOverNodeRounds: number;
  /** How it ended after SIGTERM (exit code or signal). */
  exit: string;
  /** The first lines of its stderr. */
  log: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const HOOK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// What libvirt leaves in a hook's environment (docs/LIBVIRT-FACTS.md): LC_ALL=C, PATH, HOME, USER, LOGNAME.
const HOOK_ENV: Record<string, string> = {
  LC_ALL: 'C',
  PATH: HOOK_PATH,
  HOME: '/root',
  USER: 'root',
  LOGNAME: 'root',
};
// Another Node (VCL_BENCH_NODE, e.g. Debian 12's unpacked with dpkg -x, its libraries in
// VCL_BENCH_NODE_LIBS): the launcher finds it through /etc/default/virt-consolelog (overlaid here), and
// the baselines run it with the same environment.
const chosenNode = benchNode('/usr/bin/node');
const benchNodeLibs = chosenNode.libs;
if (benchNodeLibs) HOOK_ENV.LD_LIBRARY_PATH = benchNodeLibs;

const root = args.root;
const { confDir, stateDir } = enterSandbox(root, args.parentNamespace);
overlayNodeShare(chosenNode); // Debian's Node unpacked: its builtins at /usr/share/nodejs
const store = join(root, 'store');
const live = join(root, 'live');
const legacy = join(root, 'legacy');
mkdirSync(store, { recursive: true });
mkdirSync(live, { recursive: true });
mkdirSync(legacy, { recursive: true });
const HOST = 'benchhost';
writeConfig(confDir, { logRoot: store, liveDir: live, allowedRoots: [store, legacy], hostName: HOST });

const noop = join(root, 'noop-hook');
writeFileSync(noop, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
const hook = join(args.repo, 'dist', 'virt-consolelog-hook');
const hookJs = join(args.repo, 'dist', 'hook.mjs');
const cliJs = join(args.repo, 'dist', 'virt-consolelog.mjs');
const node = chosenNode.path;
// The capture service's folder: private to this run, 0700 and root's, as the launcher and the service
// require (packaging/hook-launcher.sh.in, src/hook-server/server.ts). Plain runs say 0 explicitly, so
// that no service of the machine (at the default /run/virt-consolelog/hook-server) can answer them.
const serviceDir = join(root, 'hook-server');
mkdirSync(serviceDir, { mode: 0o700 });
chmodSync(serviceDir, 0o700);
const SERVICE_ENV = { VIRT_CONSOLELOG_HOOK_SERVER: serviceDir };
const PLAIN_ENV = { VIRT_CONSOLELOG_HOOK_SERVER: '0' };
// The launcher's start-up snapshot as an installed host has it: the package's 0700 cache folder (here the
// bench's own) and VIRT_CONSOLELOG_SNAPSHOT unset (auto: a blob only for a Node without a built-in
// snapshot); VCL_BENCH_SNAPSHOT=0 or 1 forces it off or on (README.md, "Start-up snapshot").
const snapshotMode = process.env.VCL_BENCH_SNAPSHOT ?? 'auto';
const snapshotDir = join(root, 'snapshot-cache');
mkdirSync(snapshotDir, { mode: 0o700 });
mkdirSync('/etc/default', { recursive: true });
writeFileSync(
  '/etc/default/virt-consolelog',
  (chosenNode.chosen ? `VIRT_CONSOLELOG_NODE=${node}\n` : '') +
    (benchNodeLibs ? `LD_LIBRARY_PATH=${benchNodeLibs}\n` : '') +
    (snapshotMode !== 'auto' ? `VIRT_CONSOLELOG_SNAPSHOT=${snapshotMode}\n` : '') +
    `VIRT_CONSOLELOG_SNAPSHOT_DIR=${snapshotDir}\n`,
);

const U = (n: number) => `0000000${n}-0000-4000-8000-00000000000${n}`;
const typical = domainXml({ name: 'bench-typical', uuid: U(1), serial: { type: 'pty' } });
const liveLog = liveLogPath(live, U(2), 'serial0');
const enabled = domainXml({ name: 'bench-enabled', uuid: U(2), serial: { type: 'pty', log: liveLog } });
const legacyLog = join(legacy, U(3), 'console.log');
const sealing = domainXml({ name: 'bench-seal', uuid: U(3), serial: { type: 'file', path: legacyLog } });
const big = domainXml({
  name: 'bench-big',
  uuid: U(4),
  serial: { type: 'pty' },
  minBytes: args.bigXmlBytes,
});
const stopLog = liveLogPath(live, U(5), 'serial0');
const stopping = domainXml({ name: 'bench-stop', uuid: U(5), serial: { type: 'pty', log: stopLog } });
// The same events with a 50 KiB domain XML (issue 20: the smallest and the 50 KiB XML).
const bigLiveLog = liveLogPath(live, U(6), 'serial0');
const bigEnabled = domainXml({
  name: 'bench-big-enabled',
  uuid: U(6),
  serial: { type: 'pty', log: bigLiveLog },
  minBytes: args.bigXmlBytes,
});
const bigStopLog = liveLogPath(live, U(7), 'serial0');
const bigStopping = domainXml({
  name: 'bench-big-stop',
  uuid: U(7),
  serial: { type: 'pty', log: bigStopLog },
  minBytes: args.bigXmlBytes,
});

const sealContent = Buffer.from(bootLog(3, { runtimeBytes: args.sealBytes })).subarray(0, args.sealBytes);
const bootContent = Buffer.from(bootLog(2, { runtimeBytes: 64 * 1024 }));

function resetDomain(uuid: string): void {
  rmSync(join(store, uuid), { recursive: true, force: true });
}

function writeFresh(path: string, content: Buffer): void {
  mkdirSync(join(path, '..'), { recursive: true });
  rmSync(path, { force: true }); // a new inode, as after a fresh guest start
  writeFileSync(path, content);
}

/** Sums plain bytes recorded by sealed segments' sidecars (archive/<key>.json). */
function sealedBytes(uuid: string): { segments: number; bytes: number } {
  const dir = join(store, uuid, 'archive');
  if (!existsSync(dir)) return { segments: 0, bytes: 0 };
  let segments = 0;
  let bytes = 0;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    segments++;
    try {
      const side = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;
      const n = side.plainBytes ?? side.bytes ?? side.size;
      if (typeof n === 'number') bytes += n;
    } catch {
      /* counted as a segment; bytes unknown */
    }
  }
  return { segments, bytes };
}

function validates(xml: Buffer): string {
  if (xml.length === 0) return 'empty output (XML unchanged)';
  const f = join(root, 'out.xml');
  writeFileSync(f, xml);
  const r = spawnSync('virt-xml-validate', [f, 'domain'], { encoding: 'utf8' });
  return r.status === 0
    ? `rewritten XML (${xml.length} bytes) validates`
    : `INVALID XML: ${r.stderr || r.stdout}`;
}

const shellCases: Case[] = [
  {
    name: 'noop-sh-hook',
    group: 'baseline',
    exe: noop,
    argv: ['bench-typical', 'reconnect', 'begin', '-'],
    stdin: typical,
  },
  {
    name: 'reconnect-begin',
    group: 'ignored',
    exe: hook,
    argv: ['bench-typical', 'reconnect', 'begin', '-'],
    stdin: typical,
  },
  {
    name: 'start-begin',
    group: 'ignored',
    exe: hook,
    argv: ['bench-typical', 'start', 'begin', '-'],
    stdin: typical,
  },
  // Ignored since release end alone seals and prepare begin schedules the automatic mode.
  {
    name: 'started-begin',
    group: 'ignored',
    exe: hook,
    argv: ['bench-typical', 'started', 'begin', '-'],
    stdin: typical,
  },
  {
    name: 'stopped-end',
    group: 'ignored',
    exe: hook,
    argv: ['bench-stop', 'stopped', 'end', '-'],
    stdin: stopping,
  },
];

const nodeCases: Case[] = [
  {
    name: 'noop-sh-hook',
    group: 'baseline',
    exe: noop,
    argv: ['bench-typical', 'prepare', 'begin', '-'],
    stdin: typical,
  },
  { name: 'node-e-0', group: 'baseline', exe: node, argv: ['-e', '0'], stdin: typical },
  {
    name: 'node-hook.mjs-ignored',
    group: 'baseline',
    exe: node,
    argv: [hookJs, 'bench-typical', 'reconnect', 'begin', '-'],
    stdin: typical,
  },
  {
    name: 'prepare-begin-marker',
    group: 'handled',
    exe: hook,
    argv: ['bench-enabled', 'prepare', 'begin', '-'],
    stdin: enabled,
    reset: () => writeFresh(liveLog, bootContent),
    verify: () => {
      const tail = readFileSync(liveLog, 'utf8').slice(-300);
      return tail.includes('--- virt-consolelog boot=') ? 'boot marker appended' : 'NO boot marker appended';
    },
  },
  {
    name: 'prepare-begin-seal-2MiB',
    group: 'handled',
    exe: hook,
    argv: ['bench-seal', 'prepare', 'begin', '-'],
    stdin: sealing,
    reset: () => {
      resetDomain(U(3));
      writeFresh(legacyLog, sealContent);
    },
    verify: () => {
      const s = sealedBytes(U(3));
      return s.bytes >= args.sealBytes
        ? `sealed ${s.bytes} bytes into ${s.segments} segment(s)`
        : `NOT SEALED: ${s.segments} segment(s), ${s.bytes} bytes recorded`;
    },
  },
  {
    name: 'migrate-begin-50KiB',
    group: 'handled',
    exe: hook,
    argv: ['bench-big', 'migrate', 'begin', '-'],
    stdin: big,
    verify: validates,
  },
  {
    name: 'migrate-begin-typical',
    group: 'handled',
    exe: hook,
    argv: ['bench-typical', 'migrate', 'begin', '-'],
    stdin: typical,
    verify: validates,
  },
  {
    name: 'release-end',
    group: 'handled',
    exe: hook,
    argv: ['bench-stop', 'release', 'end', 'destroyed'],
    stdin: stopping,
    reset: () => {
      resetDomain(U(5));
      writeFresh(stopLog, bootContent);
    },
  },
  {
    name: 'prepare-begin-marker-50KiB',
    group: 'handled',
    exe: hook,
    argv: ['bench-big-enabled', 'prepare', 'begin', '-'],
    stdin: bigEnabled,
    reset: () => writeFresh(bigLiveLog, bootContent),
    verify: () => {
      const tail = readFileSync(bigLiveLog, 'utf8').slice(-300);
      return tail.includes('--- virt-consolelog boot=') ? 'boot marker appended' : 'NO boot marker appended';
    },
  },
  {
    name: 'release-end-50KiB',
    group: 'handled',
    exe: hook,
    argv: ['bench-big-stop', 'release', 'end', 'destroyed'],
    stdin: bigStopping,
    reset: () => {
      resetDomain(U(7));
      writeFresh(bigStopLog, bootContent);
    },
  },
  {
    name: 'restore-begin-typical',
    group: 'handled',
    exe: hook,
    argv: ['bench-typical', 'restore', 'begin', '-'],
    stdin: typical,
    verify: validates,
  },
  {
    name: 'restore-begin-50KiB',
    group: 'handled',
    exe: hook,
    argv: ['bench-big', 'restore', 'begin', '-'],
    stdin: big,
    verify: validates,
  },
];
// The handled events as named above run plainly: the launcher starts Node (no capture service).
const handled = nodeCases.filter((c) => c.group === 'handled');
for (const c of handled) c.env = { ...PLAIN_ENV, ...c.env };
// The same events started plainly (VIRT_CONSOLELOG_SNAPSHOT=0 in the environment, which /etc/default here
// leaves alone unless VCL_BENCH_SNAPSHOT sets it): what the launcher's choice saves or costs, same rounds.
for (const name of ['migrate-begin-typical', 'release-end']) {
  const c = nodeCases.find((x) => x.name === name);
  if (c && snapshotMode === 'auto')
    nodeCases.push({
      ...c,
      name: `${name}-snapshot-off`,
      group: 'snapshot-off',
      env: { ...PLAIN_ENV, VIRT_CONSOLELOG_SNAPSHOT: '0' },
    });
}
// As installed: the same events handed to the running capture service by the launcher (same input, same
// reset and check; the output must equal the plain run's, the journal entry must be the service's).
for (const c of handled)
  nodeCases.push({ ...c, name: `${c.name}-service`, group: 'service', twin: c.name, env: SERVICE_ENV });

interface Run {
  ms: number;
  status: number | null;
  stdout: Buffer;
  stderr: string;
  /** Date.now() right before the spawn: the run's journal entry is not older. */
  startedAt: number;
}

// libvirt gives a hook anonymous pipes (virCommand: stdin from the XML buffer, stdout and stderr read to
// the end), where Node's stdio 'pipe' is a socketpair. So that every run, baselines too, sees what it sees
// under libvirt (the launcher copies stdin with cat, prints the output with cat), each gets anonymous
// pipes: three made once
// by a holder process (bash, `exec N< <(:)`: a pipe whose writer is gone, kept open by `sleep`), each end
// opened afresh through /proc/HOLDER/fd/N; stdin is filled and closed before the spawn, stdout and stderr
// are read after the exit. Every input and output here fits in a pipe's 64 KiB, so nobody waits on a full
// pipe (a run that did is cut at SPAWN_TIMEOUT_MS and fails the bench).
const PIPE_BYTES = 64 * 1024;
const SPAWN_TIMEOUT_MS = 120_000;
const C = constants;
const HOLDER_FDS = [3, 4, 5] as const;

interface PipeHolder {
  child: ChildProcess;
  /** /proc/PID/fd/N of the holder's stdin, stdout and stderr pipes. */
  paths: [string, string, string];
}

async function startPipeHolder(): Promise<PipeHolder> {
  const child = spawn('bash', ['-c', 'exec 3< <(:) 4< <(:) 5< <(:) && exec sleep infinity'], {
    stdio: 'ignore',
  });
  const paths = HOLDER_FDS.map((n) => `/proc/${child.pid}/fd/${n}`) as PipeHolder['paths'];
  const isPipe = (path: string) => {
    try {
      return readlinkSync(path).startsWith('pipe:');
    } catch {
      return false;
    }
  };
  const t0 = Date.now();
  // Ready once `sleep` holds all three (bash has exec'd it: its own fds are gone by then).
  while (!(paths.every(isPipe) && readText(`/proc/${child.pid}/comm`).trim() === 'sleep')) {
    if (child.exitCode !== null || Date.now() - t0 > 10_000)
      throw new Error('the pipe holder (bash, sleep) did not start');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { child, paths };
}

interface Pipes {
  /** The child's stdin (read end), stdout and stderr (write ends). */
  stdio: [number, number, number];
  /** Closes this process's copies of the child's ends and reads stdout and stderr to their end. */
  finish(): { stdout: Buffer; stderr: Buffer };
}

function pipes(input: string): Pipes {
  const data = Buffer.from(input);
  if (data.length > PIPE_BYTES) throw new Error(`${data.length} bytes of stdin do not fit in a pipe`);
  const [inPath, outPath, errPath] = holder.paths;
  // What a run left in a pipe (stdin a hook did not read) goes first.
  for (const path of holder.paths) {
    const fd = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
    drain(fd);
    closeSync(fd);
  }
  const inW = openSync(inPath, C.O_WRONLY);
  const inR = openSync(inPath, C.O_RDONLY);
  for (let off = 0; off < data.length;) off += writeSync(inW, data, off);
  closeSync(inW); // the child reads the XML, then end-of-file
  const outR = openSync(outPath, C.O_RDONLY | C.O_NONBLOCK);
  const outW = openSync(outPath, C.O_WRONLY);
  const errR = openSync(errPath, C.O_RDONLY | C.O_NONBLOCK);
  const errW = openSync(errPath, C.O_WRONLY);
  return {
    stdio: [inR, outW, errW],
    finish() {
      for (const fd of [inR, outW, errW]) closeSync(fd);
      const out = { stdout: drain(outR), stderr: drain(errR) };
      closeSync(outR);
      closeSync(errR);
      return out;
    },
  };
}

/** Everything in a pipe: to end-of-file, or to EAGAIN where a process the hook left holds a write end. */
function drain(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(PIPE_BYTES);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

function spawnHook(exe: string, argv: string[], c: Case, p: Pipes) {
  const r = spawnSync(exe, argv, {
    stdio: p.stdio,
    env: { ...HOOK_ENV, ...c.env },
    timeout: SPAWN_TIMEOUT_MS,
  });
  if (r.error) throw new Error(`${c.name}: ${r.error.message}`);
  return r;
}

function runOnce(c: Case): Run {
  c.reset?.();
  const p = pipes(c.stdin);
  const startedAt = Date.now();
  const t0 = process.hrtime.bigint();
  const r = spawnHook(c.exe, c.argv, c, p);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const { stdout, stderr } = p.finish();
  return { ms, status: r.status, stdout, stderr: stderr.toString(), startedAt };
}

const cpuFile = join(root, 'cpu-time');

/** CPU ms of the run's process tree (/usr/bin/time) and, for `service` cases, the service's meanwhile. */
function cpuOnce(c: Case): { ms: number; serviceMs: number; startedAt: number } {
  c.reset?.();
  const svc0 = c.group === 'service' ? serviceCpuMs() : 0;
  const p = pipes(c.stdin);
  const startedAt = Date.now();
  spawnHook('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, c.exe, ...c.argv], c, p);
  const serviceMs = c.group === 'service' ? serviceCpuMs() - svc0 : 0;
  p.finish();
  const [user = 'NaN', sys = 'NaN'] =
    readFileSync(cpuFile, 'utf8').trim().split('\n').pop()?.split(' ') ?? [];
  return { ms: (Number(user) + Number(sys)) * 1000 + serviceMs, serviceMs, startedAt };
}

// The capture service: `collect` with this namespace's config (the hook's), as root, answering in
// serviceDir. Its stdout and stderr go to a file: a pipe nobody reads while spawnSync blocks this
// process would stall it. `service` itself is declared below, once the rounds are about to start.
interface Service {
  child: ChildProcess;
  pid: number;
  exe: string;
  readyMs: number;
}
const serviceLog = join(root, 'collect.log');

async function startService(): Promise<Service> {
  const out = openSync(serviceLog, 'a');
  const t0 = Date.now();
  // What the unit gives it (EnvironmentFile=/etc/default/virt-consolelog: here the Node's libraries) plus
  // the folder; the config is the hook's (/etc/virt-consolelog in this namespace).
  // Nice=-5, as the unit runs it; nice execs Node (same pid).
  const child = spawn('nice', ['-n', '-5', node, cliJs, 'collect'], {
    env: { ...HOOK_ENV, ...SERVICE_ENV },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  let ended = '';
  child.once('exit', (code, signal) => (ended = `exited (${signal ?? code})`));
  child.once('error', (e) => (ended = `did not start: ${e.message}`));
  const requests = join(serviceDir, 'requests');
  const pidFile = join(serviceDir, 'pid');
  // The launcher hands an event over only once both are there (hand_to_service): wait for them.
  const fail = (why: string) => {
    child.kill('SIGKILL');
    return new Error(`collect ${why} in ${serviceDir}: ${readText(serviceLog).slice(0, 2000)}`);
  };
  while (!(statSync(requests, { throwIfNoEntry: false })?.isFIFO() && existsSync(pidFile))) {
    if (ended || Date.now() - t0 > 120_000)
      throw fail(ended || 'made no requests FIFO and pid file in 120 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (pid !== child.pid) throw fail(`wrote pid ${pid} into ${pidFile}, not its own ${child.pid}`);
  return { child, pid, exe: readlinkSync(`/proc/${pid}/exe`), readyMs: Date.now() - t0 };
}

/** SIGTERM, then up to 30 s for it to end (its in-flight events end first); SIGKILL after that. */
async function stopService(s: Service): Promise<string> {
  const { child } = s;
  const how = () => (child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`);
  if (child.exitCode !== null || child.signalCode !== null) return `had already ended: ${how()}`;
  const ended = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 30_000)));
  const inTime = await Promise.race([ended.then(() => true), late]);
  clearTimeout(timer);
  if (inTime) return how();
  child.kill('SIGKILL');
  await ended;
  return `killed after 30 s without ending on SIGTERM`;
}

/** The service's CPU so far, ms: utime + stime of all its threads, dead ones too (/proc/PID/stat, 1/100 s). */
function serviceTicksMs(): number {
  const f = readText(`/proc/${service.pid}/stat`).split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** The service's CPU so far, ms, at nanosecond resolution: the sum over its threads' schedstat. */
function serviceCpuMs(): number {
  let ns = 0;
  const task = `/proc/${service.pid}/task`;
  for (const tid of existsSync(task) ? readdirSync(task) : [])
    ns += Number(readText(`${task}/${tid}/schedstat`).split(' ')[0]) || 0;
  return ns / 1e6;
}

/** The last `bytes` of a file, as lines (the first one may be cut: it does not parse then). */
function tailLines(path: string, bytes: number): string[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, bytes));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8').split('\n').filter(Boolean);
  } finally {
    closeSync(fd);
  }
}

/**
 * Who ran the run of `c` started at `since`, from its entry in the plugin journal (state_dir/journal.log,
 * or journal.log.1 right after a rotation): the service writes its own pid and the note SERVICE_NOTE, a
 * Node the launcher started its own pid and no such note. "service: ...", "node: ..." or why neither.
 */
function whoRan(c: Case, since: number): string {
  const [domain, op, subop] = c.argv;
  for (const f of ['journal.log', 'journal.log.1']) {
    const lines = tailLines(join(stateDir, f), 64 * 1024);
    for (let i = lines.length - 1; i >= 0; i--) {
      let e: { at?: string; domain?: string; op?: string; subop?: string; pid?: number; notes?: string[] };
      try {
        e = JSON.parse(lines[i] as string) as typeof e;
      } catch {
        continue;
      }
      if (e.domain !== domain || e.op !== op || e.subop !== subop) continue;
      if (Date.parse(e.at ?? '') < since) return 'no journal entry for this run';
      const noted = e.notes?.includes(SERVICE_NOTE) === true;
      if (noted && e.pid === service.pid) return `service: ${SERVICE_NOTE} (journal: pid ${e.pid})`;
      if (!noted && e.pid !== service.pid) return `node: run by a Node the launcher started (pid ${e.pid})`;
      return `journal entry of pid ${e.pid} ${noted ? 'with' : 'without'} the note '${SERVICE_NOTE}'`;
    }
  }
  return 'no journal entry for this run';
}

interface Info {
  nonZero: number;
  stderr: string;
  stdoutBytes: number;
  verified: string;
  /** The first run's stdout: what a `service` twin's output must equal. */
  stdout: Buffer;
  served?: Omit<ServiceRuns, 'cpuMs'>;
}

function measure(cases: Case[], rounds: number, seed: number): CaseResult[] {
  const rand = prng(seed);
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const info = new Map<string, Info>();
  /** For a `service` case: counts who ran it and whether its output equals the plain run's. */
  const tally = (c: Case, r: Pick<Run, 'startedAt'> & { stdout?: Buffer }): string | undefined => {
    const served = info.get(c.name)?.served;
    if (c.group !== 'service' || !served) return undefined;
    const by = whoRan(c, r.startedAt);
    if (by.startsWith('service')) served.answered++;
    else if (by.startsWith('node')) served.node++;
    else served.unknown++;
    const plain = info.get(c.twin ?? '')?.stdout;
    if (r.stdout && !(plain && r.stdout.equals(plain))) served.outputDiffers++;
    return by;
  };
  // Warm-up: page cache, host-facts cache in the state folder, first-run work. A `service` case comes
  // after its plain twin (it is pushed after it), whose first output it is compared with.
  for (const c of cases) {
    const r = runOnce(c);
    const inf: Info = {
      nonZero: 0,
      stderr: r.stderr.slice(0, 500),
      stdoutBytes: r.stdout.length,
      verified: '-',
      stdout: r.stdout,
      ...(c.group === 'service' ? { served: { answered: 0, node: 0, unknown: 0, outputDiffers: 0 } } : {}),
    };
    info.set(c.name, inf);
    const checks = c.verify ? [c.verify(r.stdout)] : [];
    const by = tally(c, r);
    if (by !== undefined) {
      const plain = info.get(c.twin ?? '')?.stdout ?? Buffer.alloc(0);
      checks.unshift(
        r.stdout.equals(plain)
          ? `output equals the plain run's (${r.stdout.length} bytes)`
          : `NOT the plain run's output: ${r.stdout.length} bytes against ${plain.length}`,
      );
      checks.unshift(by.startsWith('service') ? by : `NOT answered by the capture service: ${by}`);
    }
    if (checks.length) inf.verified = checks.join('; ');
  }
  for (let i = 0; i < rounds; i++) {
    for (const c of shuffled(cases, rand)) {
      const r = runOnce(c);
      samples.get(c.name)?.push(r.ms);
      tally(c, r);
      const inf = info.get(c.name);
      if (inf && r.status !== 0) inf.nonZero++;
      if (inf && !inf.stderr && r.stderr) inf.stderr = r.stderr.slice(0, 500);
    }
  }
  const cpu = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const serviceCpu = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let i = 0; i < args.cpuRounds; i++)
    for (const c of shuffled(cases, rand)) {
      const r = cpuOnce(c);
      cpu.get(c.name)?.push(r.ms);
      serviceCpu.get(c.name)?.push(r.serviceMs);
      tally(c, r);
    }
  return cases.map((c) => {
    const inf = info.get(c.name) ?? { nonZero: 0, stderr: '', stdoutBytes: 0, verified: '-' };
    return {
      name: c.name,
      group: c.group,
      exe:
        c.exe === hook
          ? `dist/virt-consolelog-hook${c.group === 'service' ? ' (to collect)' : ''}`
          : c.exe === noop
            ? '#!/bin/sh no-op'
            : c.exe,
      argv: c.argv.map((a) => (a === hookJs ? 'dist/hook.mjs' : a)),
      stdinBytes: Buffer.byteLength(c.stdin),
      ms: summarise(samples.get(c.name) ?? []),
      cpuMs: summarise(cpu.get(c.name) ?? []),
      nonZeroExits: inf.nonZero,
      stderrSample: inf.stderr,
      stdoutBytes: inf.stdoutBytes,
      verified: inf.verified,
      ...('served' in inf && inf.served
        ? { service: { ...inf.served, cpuMs: summarise(serviceCpu.get(c.name) ?? []) } }
        : {}),
    };
  });
}

// What the launcher prepared for this Node ("blob", "plain", "off" or "failed"), once its background build
// is done: the first handled run starts it, as the package's install step would have.
function prepared(): string {
  const names = readdirSync(snapshotDir);
  if (names.some((f) => f.startsWith('.building-'))) return '';
  if (names.some((f) => f.endsWith('.failed'))) return 'failed';
  if (names.some((f) => f.endsWith('.blob'))) return 'blob';
  return names.some((f) => f.endsWith('.plain')) ? 'plain' : snapshotMode === '0' ? 'off' : '';
}
spawnSync(hook, ['bench-typical', 'migrate', 'begin', '-'], {
  input: typical,
  env: { ...HOOK_ENV, ...PLAIN_ENV },
});
for (let i = 0; i < 600 && !prepared(); i++) spawnSync('sleep', ['1']);
const snapshot = prepared();
if (!snapshot || snapshot === 'failed')
  throw new Error(
    `the launcher ${snapshot ? 'failed to build its snapshot' : 'prepared nothing'} in ${snapshotDir} (VIRT_CONSOLELOG_SNAPSHOT=${snapshotMode})`,
  );
// The service runs through all rounds, as on an installed host; stopped (SIGTERM) whatever happens.
const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
const holder = await startPipeHolder();
process.on('exit', () => alive(holder.child) && holder.child.kill('SIGKILL'));
const service = await startService();
process.on('exit', () => alive(service.child) && service.child.kill('SIGKILL'));
let shell: CaseResult[];
let nodeRuns: CaseResult[];
let cpuMsOverNodeRounds: number;
let exit: string;
try {
  shell = measure(shellCases, args.shellRounds, 1);
  const cpu0 = serviceTicksMs();
  nodeRuns = measure(nodeCases, args.nodeRounds, 2);
  cpuMsOverNodeRounds = serviceTicksMs() - cpu0;
} finally {
  exit = await stopService(service);
  holder.child.kill('SIGTERM');
}
const serviceInfo: ServiceInfo = {
  dir: serviceDir,
  node: service.exe,
  pid: service.pid,
  readyMs: service.readyMs,
  cpuMsOverNodeRounds,
  answeredOverNodeRounds: nodeRuns.reduce((n, c) => n + (c.service?.answered ?? 0), 0),
  exit,
  log: readText(serviceLog).split('\n').slice(0, 20).join('\n'),
};
process.stdout.write(
  JSON.stringify({
    shell,
    node: nodeRuns,
    snapshot: { mode: snapshotMode, started: snapshot },
    service: serviceInfo,
  }) + '\n',
);
