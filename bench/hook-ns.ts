// Runs INSIDE `unshare -m` (started by bench/hook.ts): times hook runs spawned the way libvirt spawns
// them and prints one JSON object on stdout. Never run directly: it mounts over /etc and /var/lib.
//
// Timing uses node:child_process spawnSync rather than execa (the house rule for src/): the harness's own
// overhead is part of every sample, baseline included, so it must be as small as possible.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootLog } from './lib/bootlog.js';
import { domainXml } from './lib/domainxml.js';
import { liveLogPath } from '../src/store/layout.js';
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
  /** Which target group it belongs to, for the report. */
  group: 'baseline' | 'ignored' | 'handled' | 'snapshot-off';
  argv: string[];
  exe: string;
  stdin: string;
  /** Added to the hook's environment (VIRT_CONSOLELOG_SNAPSHOT=0 for the plain start in the same rounds). */
  env?: Record<string, string>;
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
  /** CPU time (user + sys) of the hook process and its children, from separate runs. */
  cpuMs: Summary;
  nonZeroExits: number;
  stderrSample: string;
  stdoutBytes: number;
  verified: string;
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
const { confDir } = enterSandbox(root, args.parentNamespace);
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
const node = chosenNode.path;
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
// The same events started plainly (VIRT_CONSOLELOG_SNAPSHOT=0 in the environment, which /etc/default here
// leaves alone unless VCL_BENCH_SNAPSHOT sets it): what the launcher's choice saves or costs, same rounds.
for (const name of ['migrate-begin-typical', 'release-end']) {
  const c = nodeCases.find((x) => x.name === name);
  if (c && snapshotMode === 'auto')
    nodeCases.push({
      ...c,
      name: `${name}-snapshot-off`,
      group: 'snapshot-off',
      env: { VIRT_CONSOLELOG_SNAPSHOT: '0' },
    });
}

function runOnce(c: Case): { ms: number; status: number | null; stdout: Buffer; stderr: string } {
  c.reset?.();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.exe, c.argv, {
    input: c.stdin,
    env: { ...HOOK_ENV, ...c.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') throw r.error;
  return { ms, status: r.status, stdout: r.stdout ?? Buffer.alloc(0), stderr: (r.stderr ?? '').toString() };
}

const cpuFile = join(root, 'cpu-time');

function cpuOnce(c: Case): number {
  c.reset?.();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, c.exe, ...c.argv], {
    input: c.stdin,
    env: { ...HOOK_ENV, ...c.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') throw r.error;
  const [user = 'NaN', sys = 'NaN'] =
    readFileSync(cpuFile, 'utf8').trim().split('\n').pop()?.split(' ') ?? [];
  return (Number(user) + Number(sys)) * 1000;
}

function measure(cases: Case[], rounds: number, seed: number): CaseResult[] {
  const rand = prng(seed);
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const info = new Map<string, { nonZero: number; stderr: string; stdoutBytes: number; verified: string }>();
  // Warm-up: page cache, host-facts cache in the state folder, first-run work.
  for (const c of cases) {
    const r = runOnce(c);
    info.set(c.name, {
      nonZero: 0,
      stderr: r.stderr.slice(0, 500),
      stdoutBytes: r.stdout.length,
      verified: c.verify ? c.verify(r.stdout) : '-',
    });
  }
  for (let i = 0; i < rounds; i++) {
    for (const c of shuffled(cases, rand)) {
      const r = runOnce(c);
      samples.get(c.name)?.push(r.ms);
      const inf = info.get(c.name);
      if (inf && r.status !== 0) inf.nonZero++;
      if (inf && !inf.stderr && r.stderr) inf.stderr = r.stderr.slice(0, 500);
    }
  }
  const cpu = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let i = 0; i < args.cpuRounds; i++)
    for (const c of shuffled(cases, rand)) cpu.get(c.name)?.push(cpuOnce(c));
  return cases.map((c) => {
    const inf = info.get(c.name) ?? { nonZero: 0, stderr: '', stdoutBytes: 0, verified: '-' };
    return {
      name: c.name,
      group: c.group,
      exe: c.exe === hook ? 'dist/virt-consolelog-hook' : c.exe === noop ? '#!/bin/sh no-op' : c.exe,
      argv: c.argv.map((a) => (a === hookJs ? 'dist/hook.mjs' : a)),
      stdinBytes: Buffer.byteLength(c.stdin),
      ms: summarise(samples.get(c.name) ?? []),
      cpuMs: summarise(cpu.get(c.name) ?? []),
      nonZeroExits: inf.nonZero,
      stderrSample: inf.stderr,
      stdoutBytes: inf.stdoutBytes,
      verified: inf.verified,
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
spawnSync(hook, ['bench-typical', 'migrate', 'begin', '-'], { input: typical, env: HOOK_ENV });
for (let i = 0; i < 600 && !prepared(); i++) spawnSync('sleep', ['1']);
const snapshot = prepared();
if (!snapshot || snapshot === 'failed')
  throw new Error(
    `the launcher ${snapshot ? 'failed to build its snapshot' : 'prepared nothing'} in ${snapshotDir} (VIRT_CONSOLELOG_SNAPSHOT=${snapshotMode})`,
  );
const shell = measure(shellCases, args.shellRounds, 1);
const nodeRuns = measure(nodeCases, args.nodeRounds, 2);
process.stdout.write(
  JSON.stringify({ shell, node: nodeRuns, snapshot: { mode: snapshotMode, started: snapshot } }) + '\n',
);
