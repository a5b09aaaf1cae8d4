// Target 3: reading a domain with 1 GiB of history across 500 segments (every 4th gzipped) against
// `tail` on one plain file of the same bytes: `show -c 102400`, `show -n 1000`, peak memory, and the
// throughput of `show` over the whole history. The history is built once with the store's own code
// (bench/lib/history.ts) into a cache folder under /var/tmp and reused while its shape still checks out
// (same segments, and an archive index: each seal appends to it, as on a real host).
// VCL_BENCH_NODE / VCL_BENCH_NODE_LIBS (bench/lib/node.ts): every timed Node process runs that Node; the
// in-process library calls run in the bench's own Node. `show` against `node -e 0` (issue 20) is timed as
// an installed host runs it: through the command's launcher (dist/virt-consolelog), with the start-up
// snapshot the hook's launcher prepared for that Node (auto, or VCL_BENCH_SNAPSHOT=0/1), and plainly in
// the same rounds; and answered by the capture service, which the packages run (`collect`, here with
// a store of its own: it reads the history only for the requests).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openHistory, readHistory, type ReadOptions } from '../src/history/reader.js';
import { listSegments } from '../src/store/segments.js';
import { ARCHIVE_NAME, INDEX_NAME } from '../src/store/layout.js';
import { bootLog } from './lib/bootlog.js';
import { benchConfig, sealBoot } from './lib/history.js';
import { benchNode, nodeEnv, nodeVersion, overlayNodeShare } from './lib/node.js';
import type { Target } from './lib/result.js';
import { configText } from './lib/sandbox.js';
import { prng, ratio, round, shuffled, summarise, type Summary } from './lib/stats.js';

const CACHE = '/var/tmp/virt-consolelog-bench';
const HOST = 'benchhost';
const UUID = 'bec00000-0000-4000-8000-000000000001';

interface Shape {
  totalBytes: number;
  segments: number;
  /** Segments i with i % gzipEvery === gzipEvery - 1 are gzipped (the last one is). */
  gzipEvery: number;
}

// --quick reads the same history with fewer rounds: the targets are defined on this shape, and cost
// that grows with the number of segments only shows with 500 of them.
const FULL: Shape = { totalBytes: 2 ** 30, segments: 500, gzipEvery: 4 };

interface Dataset {
  dir: string;
  logRoot: string;
  configPath: string;
  plainPath: string;
  shape: Shape;
  plainBytes: number;
  storedBytes: number;
  gzipSegments: number;
  generatedSeconds?: number;
}

function segmentSizes(shape: Shape): number[] {
  const rand = prng(7);
  const weights = Array.from({ length: shape.segments }, () => 0.5 + rand());
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => Math.floor((w / sum) * shape.totalBytes));
}

/** Checks a cached dataset against the store as the current code lists it. */
function cachedDataset(dir: string, shape: Shape): Dataset | undefined {
  const metaPath = join(dir, 'dataset.json');
  if (!existsSync(metaPath)) return undefined;
  try {
    const d = JSON.parse(readFileSync(metaPath, 'utf8')) as Dataset;
    const config = benchConfig(d.logRoot, HOST);
    const segs = listSegments(config, UUID);
    const plain = segs.reduce((s, x) => s + x.plainBytes, 0);
    if (segs.length !== shape.segments || plain !== d.plainBytes) return undefined;
    // A history written before the archive index existed would be read through its sidecars.
    if (!existsSync(join(d.logRoot, UUID, ARCHIVE_NAME, INDEX_NAME))) return undefined;
    if (statSync(d.plainPath).size !== plain) return undefined;
    return d;
  } catch {
    return undefined;
  }
}

async function dataset(shape: Shape): Promise<Dataset> {
  const dir = join(CACHE, `reader-${shape.segments}x${shape.totalBytes}`);
  const cached = cachedDataset(dir, shape);
  if (cached) return cached;
  process.stderr.write(
    `  generating ${shape.totalBytes} bytes of history in ${shape.segments} segments into ${dir}\n`,
  );
  const t0 = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const logRoot = join(dir, 'store');
  const configPath = join(dir, 'virt-consolelog.conf');
  writeFileSync(
    configPath,
    configText({ logRoot, liveDir: `${logRoot}.live`, allowedRoots: [logRoot], hostName: HOST }),
  );
  const config = benchConfig(logRoot, HOST);
  const plainPath = join(dir, 'plain.log');
  const plain = openSync(plainPath, 'w');
  let plainBytes = 0;
  try {
    for (const [i, size] of segmentSizes(shape).entries()) {
      let text = Buffer.from(bootLog(1000 + i, { runtimeBytes: size }));
      const cut = text.lastIndexOf(0x0a, size - 100);
      text = text.subarray(0, cut + 1);
      const gz = i % shape.gzipEvery === shape.gzipEvery - 1;
      const sealed = await sealBoot(config, UUID, i, text, gz, new Date(Date.UTC(2026, 0, 1) + i * 3600_000));
      writeSync(plain, sealed.live);
      plainBytes += sealed.live.length;
    }
  } finally {
    closeSync(plain);
  }
  const segs = listSegments(config, UUID);
  const d: Dataset = {
    dir,
    logRoot,
    configPath,
    plainPath,
    shape,
    plainBytes,
    storedBytes: segs.reduce((s, x) => s + x.storedBytes, 0),
    gzipSegments: segs.filter((s) => s.compressed).length,
    generatedSeconds: Math.round((Date.now() - t0) / 1000),
  };
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify(d, null, 2) + '\n');
  return d;
}

interface Run {
  ms: number;
  maxRssKiB: number;
  status: number | null;
  stderr: string;
}

/**
 * The environment of an operator's shell, not this one's: variables such as NODE_EXTRA_CA_CERTS
 * (set in some CI and sandbox shells) make every Node start load extra files (~40 ms here).
 */
export const CLEAN_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: process.env.HOME ?? '/root',
  LC_ALL: 'C',
};

/** Runs argv under /usr/bin/time (for peak RSS), stdout to `out`; wall time measured around it. */
function timed(argv: string[], out: string, env: NodeJS.ProcessEnv = CLEAN_ENV): Run {
  const rssFile = join(CACHE, `rss-${process.pid}`);
  const fd = openSync(out, 'w');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, ...argv], {
      stdio: ['ignore', fd, 'pipe'],
      env,
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const rss = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    return { ms, maxRssKiB: rss, status: r.status, stderr: (r.stderr ?? '').toString().slice(0, 400) };
  } finally {
    closeSync(fd);
  }
}

interface CaseResult {
  name: string;
  command: string;
  ms: Summary;
  maxRssMiB: number;
  outputBytes: number;
  failures: number;
  stderr: string;
}

/** One command timed in the rounds; `env` for Node's (its LD_LIBRARY_PATH), else CLEAN_ENV. */
interface Case {
  name: string;
  argv: string[];
  out: string;
  env?: NodeJS.ProcessEnv;
  /** What its command line does not show (who answers it), for the table. */
  note?: string;
}

/** The capture service as the packages run it, answering `show` in a folder of its own under CACHE. */
interface ShowService {
  /** Its VIRT_CONSOLELOG_HOOK_SERVER. */
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts `collect` (the built CLI on `node`, `env` its environment) with a store of its own, so that its
 * capture and retention never touch the bench's history; `show` requests name the history's config.
 */
async function startShowService(cli: string, node: string, env: NodeJS.ProcessEnv): Promise<ShowService> {
  const base = join(CACHE, `service-${process.pid}`);
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { mode: 0o700 });
  const store = join(base, 'store');
  const conf = join(base, 'virt-consolelog.conf');
  writeFileSync(
    conf,
    configText({ logRoot: store, liveDir: `${store}.live`, allowedRoots: [store], hostName: HOST }),
  );
  const dir = join(base, 'hook-server');
  const svc: ChildProcess = spawn(node, [cli, '--config', conf, 'collect'], {
    env: { ...env, VIRT_CONSOLELOG_HOOK_SERVER: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  svc.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  const gone = new Promise<void>((r) => svc.once('exit', () => r()));
  // Waits for the condition (the service's pid file), not a duration; a service that exits says why.
  while (!existsSync(join(dir, 'pid'))) {
    if (svc.exitCode !== null) throw new Error(`collect exited (${svc.exitCode}): ${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    dir,
    async stop() {
      svc.kill('SIGTERM');
      await gone;
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * A 0700 cache folder prepared by the hook's launcher for this Node, as the package's install step does
 * (`50-virt-consolelog --build-snapshot`): the CLI's blob where the mode wants one. Returns the folder and
 * what `show` starts from: "blob", "plain" (auto on a Node with its own snapshot) or "off".
 */
function preparedSnapshot(repo: string, launcherEnv: NodeJS.ProcessEnv): { dir: string; started: string } {
  const dir = String(launcherEnv.VIRT_CONSOLELOG_SNAPSHOT_DIR);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  const r = spawnSync(join(repo, 'dist', 'virt-consolelog-hook'), ['--build-snapshot'], {
    env: launcherEnv,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`--build-snapshot failed (${r.status}): ${r.stderr}`);
  const names = readdirSync(dir);
  if (launcherEnv.VIRT_CONSOLELOG_SNAPSHOT === '0') return { dir, started: 'off' };
  if (names.some((f) => f.startsWith('cli-') && f.endsWith('.blob'))) return { dir, started: 'blob' };
  if (names.some((f) => f.endsWith('.plain'))) return { dir, started: 'plain' };
  throw new Error(`the launcher prepared no CLI blob in ${dir}: ${names.join(' ') || 'nothing'} ${r.stderr}`);
}

function measure(cases: Case[], rounds: number, seed: number): Map<string, CaseResult> {
  const rand = prng(seed);
  const runs = new Map<string, Run[]>(cases.map((c) => [c.name, []]));
  for (const c of cases) timed(c.argv, c.out, c.env); // warm-up: page cache
  for (let i = 0; i < rounds; i++)
    for (const c of shuffled(cases, rand)) runs.get(c.name)?.push(timed(c.argv, c.out, c.env));
  return new Map(
    cases.map((c) => {
      const rs = runs.get(c.name) ?? [];
      return [
        c.name,
        {
          name: c.name,
          command: c.argv.join(' ') + (c.note ? ` [${c.note}]` : ''),
          ms: summarise(rs.map((r) => r.ms)),
          maxRssMiB: round(Math.max(...rs.map((r) => r.maxRssKiB)) / 1024, 1),
          outputBytes: c.out === '/dev/null' ? 0 : statSync(c.out).size,
          failures: rs.filter((r) => r.status !== 0).length,
          stderr: rs.find((r) => r.stderr)?.stderr ?? '',
        },
      ];
    }),
  );
}

/**
 * The reader's own cost without Node's start-up: readHistory (the library form of `show`) in this
 * process, warm, the output counted and dropped.
 */
async function inProcess(
  d: Dataset,
  o: ReadOptions,
  rounds: number,
): Promise<{ ms: Summary; bytes: number }> {
  const config = benchConfig(d.logRoot, HOST);
  const samples: number[] = [];
  let bytes = 0;
  for (let i = 0; i <= rounds; i++) {
    const t0 = process.hrtime.bigint();
    bytes = 0;
    for await (const e of readHistory(config, UUID, o)) if (e.type === 'data') bytes += e.data.length;
    if (i > 0) samples.push(Number(process.hrtime.bigint() - t0) / 1e6); // run 0 warms up
  }
  return { ms: summarise(samples), bytes };
}

/** openHistory alone (the snapshot: archive listing, sidecar metadata, state files, live tails). */
async function snapshotOnly(d: Dataset, rounds: number): Promise<{ ms: Summary; bytes: number }> {
  const config = benchConfig(d.logRoot, HOST);
  const samples: number[] = [];
  for (let i = 0; i <= rounds; i++) {
    const t0 = process.hrtime.bigint();
    (await openHistory(config, UUID)).close();
    if (i > 0) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: summarise(samples), bytes: 0 };
}

export async function benchReader(
  repo: string,
  opts: { quick: boolean },
): Promise<{
  /** The Node of every timed Node process (VCL_BENCH_NODE, else this one); the library calls ran in this one. */
  node: { path: string; version: string; libs: string | undefined; benchNodeVersion: string };
  dataset: Dataset;
  cases: CaseResult[];
  library: Record<string, { ms: Summary; bytes: number }>;
  targets: Target[];
  details: { title: string; head: string[]; rows: (string | number)[][] }[];
}> {
  mkdirSync(CACHE, { recursive: true });
  const d = await dataset(FULL);
  const cli = join(repo, 'dist', 'virt-consolelog.mjs');
  const chosen = benchNode(process.execPath);
  overlayNodeShare(chosen); // Debian's Node unpacked: its builtins at /usr/share/nodejs
  const node = chosen.path;
  const ran = {
    path: node,
    version: nodeVersion(chosen),
    libs: chosen.libs,
    benchNodeVersion: process.version,
  };
  const env = nodeEnv(chosen, CLEAN_ENV);
  const show = (...a: string[]) => [node, cli, '--config', d.configPath, 'show', ...a, UUID];
  const out = (n: string) => join(CACHE, `out-${n}`);
  // The command as installed: its launcher, Node and snapshot folder named in its environment.
  const snapshotMode = process.env.VCL_BENCH_SNAPSHOT;
  // Without the capture service here (VIRT_CONSOLELOG_HOOK_SERVER=0): `show` starts Node.
  const launcherEnv = nodeEnv(chosen, {
    ...CLEAN_ENV,
    VIRT_CONSOLELOG_NODE: node,
    VIRT_CONSOLELOG_CONFIG: d.configPath,
    VIRT_CONSOLELOG_SNAPSHOT_DIR: join(CACHE, `snapshot-${process.pid}`),
    VIRT_CONSOLELOG_HOOK_SERVER: '0',
    ...(snapshotMode ? { VIRT_CONSOLELOG_SNAPSHOT: snapshotMode } : {}),
  });
  const snapshot = preparedSnapshot(repo, launcherEnv);
  const service = await startShowService(cli, node, env);
  const servedEnv = { ...launcherEnv, VIRT_CONSOLELOG_HOOK_SERVER: service.dir };
  const installed = (...a: string[]) => [join(repo, 'dist', 'virt-consolelog'), 'show', ...a, UUID];
  // VCL_BENCH_BASELINE_CLI: an older build's dist/virt-consolelog.mjs, run in the same rounds (issue 21:
  // "not slower than before" is a ratio between two builds measured interleaved, not two runs apart);
  // or its launcher dist/virt-consolelog, run as installed against this build's, with a snapshot folder
  // of its own that the older build's hook launcher prepared.
  const baselineCli = process.env.VCL_BENCH_BASELINE_CLI;
  const baselineInstalled = baselineCli !== undefined && basename(baselineCli) === 'virt-consolelog';
  const baselineEnv = baselineInstalled
    ? { ...launcherEnv, VIRT_CONSOLELOG_SNAPSHOT_DIR: join(CACHE, `snapshot-baseline-${process.pid}`) }
    : env;
  const baselineSnapshot = baselineInstalled
    ? preparedSnapshot(dirname(dirname(baselineCli)), baselineEnv)
    : undefined;
  const baseShow = (...a: string[]) =>
    baselineInstalled
      ? [baselineCli, 'show', ...a, UUID]
      : [node, baselineCli ?? '', '--config', d.configPath, 'show', ...a, UUID];
  const baselineCases = baselineCli
    ? [
        {
          name: 'show -c 102400 (baseline build)',
          argv: baseShow('-c', '102400'),
          out: out('base-c'),
          env: baselineEnv,
        },
        {
          name: 'show -n 1000 (baseline build)',
          argv: baseShow('-n', '1000'),
          out: out('base-n'),
          env: baselineEnv,
        },
      ]
    : [];
  let small: Map<string, CaseResult>;
  try {
    small = measure(
      [
        ...baselineCases,
        { name: 'show -c 102400', argv: show('-c', '102400'), out: out('show-c'), env },
        {
          name: 'show -c 102400 (installed)',
          argv: installed('-c', '102400'),
          out: out('installed-c'),
          env: launcherEnv,
          note: 'no capture service: Node starts',
        },
        { name: 'tail -c 102400', argv: ['tail', '-c', '102400', d.plainPath], out: out('tail-c') },
        { name: 'show -n 1000', argv: show('-n', '1000'), out: out('show-n'), env },
        {
          name: 'show -n 1000 (installed)',
          argv: installed('-n', '1000'),
          out: out('installed-n'),
          env: launcherEnv,
          note: 'no capture service: Node starts',
        },
        {
          name: 'show -c 102400 (installed, service)',
          argv: installed('-c', '102400'),
          out: out('served-c'),
          env: servedEnv,
          note: 'answered by the capture service',
        },
        {
          name: 'show -n 1000 (installed, service)',
          argv: installed('-n', '1000'),
          out: out('served-n'),
          env: servedEnv,
          note: 'answered by the capture service',
        },
        { name: 'tail -n 1000', argv: ['tail', '-n', '1000', d.plainPath], out: out('tail-n') },
        { name: 'node -e 0', argv: [node, '-e', '0'], out: '/dev/null', env },
        // Start-up plus loading the CLI's entry bundle, no command: what every `show` pays before reading.
        { name: 'virt-consolelog --version', argv: [node, cli, '--version'], out: '/dev/null', env },
      ],
      opts.quick ? 5 : 21,
      3,
    );
  } finally {
    await service.stop();
  }
  rmSync(snapshot.dir, { recursive: true, force: true });
  if (baselineSnapshot) rmSync(baselineSnapshot.dir, { recursive: true, force: true });
  const whole = measure(
    [
      { name: 'show (whole history)', argv: show(), out: '/dev/null', env },
      { name: 'cat plain file', argv: ['cat', d.plainPath], out: '/dev/null' },
    ],
    opts.quick ? 1 : 3,
    4,
  );
  const libC = await inProcess(d, { bytes: 102400 }, opts.quick ? 3 : 11);
  const libN = await inProcess(d, { lines: 1000 }, opts.quick ? 3 : 11);
  const libAll = await inProcess(d, {}, 1);
  const snap = await snapshotOnly(d, opts.quick ? 3 : 11);
  const sameC = readFileSync(out('show-c')).equals(readFileSync(out('tail-c')));
  // -n prints journalctl-style boot separators (`-- Boot ... --`); the lines themselves must be tail's.
  const withoutSeparators = readFileSync(out('show-n'), 'latin1')
    .split('\n')
    .filter((l) => !/^-- Boot .* --$/.test(l))
    .join('\n');
  const sameN = withoutSeparators === readFileSync(out('tail-n'), 'latin1');
  const get = (m: Map<string, CaseResult>, n: string) => m.get(n) as CaseResult;
  const showC = get(small, 'show -c 102400');
  const tailC = get(small, 'tail -c 102400');
  const showN = get(small, 'show -n 1000');
  const installedC = get(small, 'show -c 102400 (installed)');
  const installedN = get(small, 'show -n 1000 (installed)');
  const sameAs = (a: string, b: string) => readFileSync(out(a)).equals(readFileSync(out(b)));
  const sameInstalled = sameAs('installed-c', 'show-c') && sameAs('installed-n', 'show-n');
  const servedC = get(small, 'show -c 102400 (installed, service)');
  const servedN = get(small, 'show -n 1000 (installed, service)');
  const sameServed = sameAs('served-c', 'show-c') && sameAs('served-n', 'show-n');
  const tailN = get(small, 'tail -n 1000');
  const nodeE = get(small, 'node -e 0');
  const version = get(small, 'virt-consolelog --version');
  const showAll = get(whole, 'show (whole history)');
  const cat = get(whole, 'cat plain file');
  const mibps = (ms: number) => round(d.plainBytes / 2 ** 20 / (ms / 1000), 1);
  const peak = Math.max(showC.maxRssMiB, showN.maxRssMiB, showAll.maxRssMiB);
  const ok = (c: CaseResult) => c.failures === 0;
  const targets: Target[] = [
    {
      id: 'reader.show-c',
      what: '`show -c 102400` vs `tail -c 102400` on one plain file, median wall time',
      limit: '<= 2.0x',
      measured: `${showC.ms.median} ms vs ${tailC.ms.median} ms = ${ratio(showC.ms.median, tailC.ms.median)}x; output ${sameC ? 'identical' : 'DIFFERENT'}; Node start-up alone (node -e 0) ${nodeE.ms.median} ms, with the CLI's entry bundle loaded (--version) ${version.ms.median} ms; the library call in-process ${libC.ms.median} ms (its snapshot ${snap.ms.median} ms)`,
      met: ok(showC) && showC.ms.median <= 2 * tailC.ms.median,
    },
    {
      id: 'reader.show-n',
      what: '`show -n 1000` vs `tail -n 1000` on one plain file, median wall time',
      limit: '<= 2.0x',
      measured: `${showN.ms.median} ms vs ${tailN.ms.median} ms = ${ratio(showN.ms.median, tailN.ms.median)}x; output ${sameN ? 'identical apart from boot separator lines' : 'DIFFERENT'}; the library call in-process ${libN.ms.median} ms`,
      met: ok(showN) && showN.ms.median <= 2 * tailN.ms.median,
    },
    // Issue 20: the floor is Node's own start-up, not tail's: the same commands against `node -e 0`, as
    // an installed host runs them: answered by the capture service (root, into a pipe or file) ...
    ...[
      { id: 'show-c', what: '`show -c 102400`', c: servedC, node: installedC },
      { id: 'show-n', what: '`show -n 1000`', c: servedN, node: installedN },
    ].map(({ id, what, c, node: started }): Target => ({
      id: `reader.vs-node.${id}`,
      what: `${what} over the 1 GiB / 500 segment history as installed, answered by the capture service (root, output not a terminal) vs \`node -e 0\`, median wall time (service on Node ${ran.version})`,
      limit: '<= 1.5x',
      measured: `${c.ms.median} ms vs ${nodeE.ms.median} ms = ${ratio(c.ms.median, nodeE.ms.median)}x; output ${sameServed ? 'identical to the plain CLI' : 'DIFFERENT from the plain CLI'}; the same command starting Node (no service) ${started.ms.median} ms = ${ratio(started.ms.median, nodeE.ms.median)}x`,
      met: ok(c) && sameServed && c.ms.median <= 1.5 * nodeE.ms.median,
    })),
    // ... and starting Node (the service stopped, another user, a terminal), plainly in the same rounds.
    ...[
      { id: 'show-c', what: '`show -c 102400`', c: installedC, bare: showC },
      { id: 'show-n', what: '`show -n 1000`', c: installedN, bare: showN },
    ].map(({ id, what, c, bare }): Target => ({
      id: `reader.vs-node-started.${id}`,
      what: `${what} over the 1 GiB / 500 segment history as installed, starting Node (no capture service: launcher, snapshot ${snapshot.started}) vs \`node -e 0\`, median wall time (Node ${ran.version})`,
      limit: '<= 1.5x',
      measured: `${c.ms.median} ms vs ${nodeE.ms.median} ms = ${ratio(c.ms.median, nodeE.ms.median)}x; output ${sameInstalled ? 'identical to the plain CLI' : 'DIFFERENT from the plain CLI'}; the plain CLI (node virt-consolelog.mjs) ${bare.ms.median} ms = ${ratio(bare.ms.median, nodeE.ms.median)}x (--version: ${version.ms.median} ms)`,
      met: ok(c) && sameInstalled && c.ms.median <= 1.5 * nodeE.ms.median,
    })),
    {
      id: 'reader.peak-rss',
      what: 'peak RSS of `show` (-c, -n, whole history)',
      limit: '< 64 MiB',
      measured: `${peak} MiB (-c ${showC.maxRssMiB}, -n ${showN.maxRssMiB}, whole history ${showAll.maxRssMiB}; node -e 0: ${nodeE.maxRssMiB} MiB, --version: ${version.maxRssMiB} MiB)`,
      met: ok(showC) && ok(showN) && ok(showAll) && peak < 64,
    },
    {
      id: 'reader.throughput',
      what: '`show` of the whole history to /dev/null',
      limit: '>= 200 MiB/s',
      measured: `${mibps(showAll.ms.median)} MiB/s (${showAll.ms.median} ms for ${d.plainBytes} bytes; cat of the plain file ${mibps(cat.ms.median)} MiB/s; the library call in-process ${mibps(libAll.ms.median)} MiB/s)`,
      met: ok(showAll) && mibps(showAll.ms.median) >= 200,
    },
  ];
  if (baselineCli)
    for (const [id, c, b] of [
      ['c', baselineInstalled ? installedC : showC, get(small, 'show -c 102400 (baseline build)')],
      ['n', baselineInstalled ? installedN : showN, get(small, 'show -n 1000 (baseline build)')],
    ] as const)
      targets.push({
        id: `reader.vs-baseline.show-${id}`,
        what: `\`${c.name}\` of this build vs the baseline build (${baselineCli}${baselineSnapshot ? `, snapshot ${baselineSnapshot.started}` : ''}), median wall time`,
        limit: '<= 1.05x',
        measured: `${c.ms.median} ms vs ${b.ms.median} ms = ${ratio(c.ms.median, b.ms.median)}x; output ${readFileSync(out(`base-${id}`)).equals(readFileSync(out(`show-${id}`))) ? 'identical' : 'DIFFERENT'}`,
        met: ok(c) && ok(b) && c.ms.median <= 1.05 * b.ms.median,
      });
  const cases = [...small.values(), ...whole.values()];
  const lib = [
    ['readHistory({ bytes: 102400 })', libC],
    ['readHistory({ lines: 1000 })', libN],
    ['readHistory({}) (whole history)', libAll],
    ['openHistory() (the snapshot alone)', snap],
  ] as const;
  return {
    node: ran,
    dataset: d,
    cases,
    library: Object.fromEntries(lib.map(([k, v]) => [k, v])),
    targets,
    details: [
      {
        title: `History: ${d.plainBytes} bytes in ${d.shape.segments} segments (${d.gzipSegments} gzip), ${d.storedBytes} bytes stored; warm page cache; \`node\` is ${node} (${ran.version}${ran.libs ? `, LD_LIBRARY_PATH=${ran.libs}` : ''})`,
        head: ['command', 'median ms', 'p10', 'p90', 'runs', 'peak RSS MiB', 'output bytes', 'failures'],
        rows: cases.map((c) => [
          c.command
            .replace(repo + '/', '')
            .replace(CACHE, '$CACHE')
            .replace(node, 'node'),
          c.ms.median,
          c.ms.p10,
          c.ms.p90,
          c.ms.n,
          c.maxRssMiB,
          c.outputBytes,
          c.failures + (c.stderr ? ` (${c.stderr.split('\n')[0]})` : ''),
        ]),
      },
      {
        title: `The reader in-process (library call in the bench's own warm Node process, ${process.version}: no start-up, no stdout)`,
        head: ['call', 'median ms', 'p10', 'p90', 'runs', 'bytes out', 'MiB/s out'],
        // Output bytes per second of each call (for a tail read: what it printed, not the history).
        rows: lib.map(([k, v]) => [
          k,
          v.ms.median,
          v.ms.p10,
          v.ms.p90,
          v.ms.n,
          v.bytes,
          v.bytes ? round(v.bytes / 2 ** 20 / (v.ms.median / 1000), 1) : '-',
        ]),
      },
    ],
  };
}
