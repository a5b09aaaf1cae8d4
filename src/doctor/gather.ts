// The doctor's adapter: reads what the checks judge from this host (files under /etc, /run,
// /proc, the state dir), runs the binaries' --version and probes the peers' export.
// Long: one gatherer per fact the checks judge, sharing the same probes and read helpers.
import { randomBytes } from '../util/crypto.js';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Config } from '../config/schema.js';
import { getHostFacts, LIBVIRT_DAEMONS, QEMU_DIRS, qemuCandidates, type ProbePaths } from '../host/facts.js';
import { readJournal } from '../journal/journal.js';
import { parseListing } from '../transfer/protocol.js';
import { peerArgv } from '../transfer/transport.js';
import { SafeDir } from '../store/safe-fs.js';
import type {
  DaemonFacts,
  DoctorFacts,
  FilesystemFacts,
  HookFileFacts,
  PathFacts,
  PeerFacts,
  ReloadRecord,
  SnapshotFacts,
} from './checks.js';

export interface DoctorPaths {
  /** /etc/libvirt/hooks: the main `qemu` script and `qemu.d/`. */
  hooksDir: string;
  /** /run: daemons' pid files, libvirt/virtlogd-sock. */
  runDir: string;
  procDir: string;
  qemuConf: string;
  /** /etc/default/virt-consolelog (VIRT_CONSOLELOG_NODE). */
  defaultFile: string;
  /** Where the hook launcher looks for Node, in its order (after VIRT_CONSOLELOG_NODE). */
  nodeCandidates: readonly string[];
  /** The launcher's snapshot folder unless VIRT_CONSOLELOG_SNAPSHOT_DIR names another. */
  snapshotDir: string;
  probe: ProbePaths;
  /** /proc/self/mountinfo: the file systems the store and state live on. */
  mountinfo: string;
}

export const SYSTEM_PATHS: Readonly<DoctorPaths> = {
  hooksDir: '/etc/libvirt/hooks',
  runDir: '/run',
  procDir: '/proc',
  qemuConf: '/etc/libvirt/qemu.conf',
  defaultFile: '/etc/default/virt-consolelog',
  nodeCandidates: ['/usr/bin/node', '/usr/bin/nodejs', '/usr/local/bin/node'],
  snapshotDir: '/var/cache/virt-consolelog',
  probe: { libvirtDaemons: LIBVIRT_DAEMONS, qemuDirs: QEMU_DIRS },
  mountinfo: '/proc/self/mountinfo',
};

export const DAEMONS = ['libvirtd', 'virtqemud'] as const;
/** A UUID no domain has: listing it proves the export answers without reading any history. */
const PROBE_UUID = '00000000-0000-0000-0000-000000000000';
/** Clock ticks per second of /proc/PID/stat: USER_HZ, fixed at 100 in Linux's user ABI. */
const USER_HZ = 100;
const PEER_CONNECT_TIMEOUT_S = 3;
const PEER_TIMEOUT_MS = 10_000;

export interface GatherOptions {
  paths?: DoctorPaths;
  /** Probe the peers (network); false for --no-peers. */
  peers?: boolean;
}

function readText(path: string, max = 64 * 1024): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const buf = Buffer.alloc(max);
    const n = fs.readSync(fd, buf, 0, max, 0);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function isExecutableFile(path: string): { ok: boolean; ctimeMs: number } | undefined {
  try {
    // stat, not lstat: libvirt follows a symlinked hook too.
    const st = fs.statSync(path);
    return { ok: st.isFile() && (st.mode & 0o111) !== 0, ctimeMs: st.ctimeMs };
  } catch {
    return undefined;
  }
}

/** The hook.mjs a launcher runs: `exec "$node" "/path/hook.mjs"` in packaging/hook-launcher.sh.in. */
export function launcherTarget(text: string): string | undefined {
  return /exec\s+"\$node"\s+"([^"]+)"/.exec(text)?.[1];
}

function isOurLauncher(text: string): boolean {
  return text.includes('virt-consolelog') && launcherTarget(text) !== undefined;
}

function gatherHooks(hooksDir: string): Pick<DoctorFacts, 'hooks' | 'otherHooks'> {
  const hooks: HookFileFacts[] = [];
  const otherHooks: { path: string; ctimeMs: number }[] = [];
  const main = join(hooksDir, 'qemu');
  const mainStat = isExecutableFile(main);
  if (mainStat?.ok) otherHooks.push({ path: main, ctimeMs: mainStat.ctimeMs });
  let names: string[] = [];
  try {
    names = fs.readdirSync(join(hooksDir, 'qemu.d')).sort();
  } catch {
    names = [];
  }
  for (const name of names) {
    const path = join(hooksDir, 'qemu.d', name);
    const st = isExecutableFile(path);
    if (!st) continue;
    const text = readText(path);
    if (text !== undefined && isOurLauncher(text)) {
      const target = launcherTarget(text);
      hooks.push({
        path,
        executable: st.ok,
        ctimeMs: st.ctimeMs,
        target,
        targetExists: target !== undefined && fs.existsSync(target),
      });
    } else if (st.ok) {
      otherHooks.push({ path, ctimeMs: st.ctimeMs });
    }
  }
  return { hooks, otherHooks };
}

/** A variable's value in the /etc/default file (plain assignments; the file is not executed). */
export function defaultFileValue(text: string | undefined, name: string): string | undefined {
  if (!text) return undefined;
  let value: string | undefined;
  const assignment = new RegExp(`^\\s*(?:export\\s+)?${name}=(?:"([^"]*)"|'([^']*)'|(\\S*))\\s*$`);
  for (const line of text.split('\n')) {
    const m = assignment.exec(line);
    if (m) value = m[1] ?? m[2] ?? m[3];
  }
  return value || undefined;
}

/** VIRT_CONSOLELOG_NODE from the /etc/default file. */
export const defaultFileNode = (text: string | undefined) => defaultFileValue(text, 'VIRT_CONSOLELOG_NODE');

/** The Node the launcher takes; `defaults` is the text of /etc/default/virt-consolelog. */
async function gatherNode(paths: DoctorPaths, defaults: string | undefined): Promise<DoctorFacts['node']> {
  const override = defaultFileNode(defaults);
  for (const candidate of [override, ...paths.nodeCandidates]) {
    if (!candidate || !isExecutableFile(candidate)?.ok) continue;
    const r = await execa(candidate, ['--version'], { reject: false, timeout: 5000, stdin: 'ignore' });
    const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(r.stdout).trim());
    return { path: candidate, version: m ? `${m[1]}.${m[2]}.${m[3]}` : undefined };
  }
  return { path: undefined, version: undefined };
}

/** The hook's snapshot code a launcher builds blobs from: `--build-snapshot "/path/hook-snapshot.cjs"` (not the CLI's). */
export function launcherSnapshotCode(text: string): string | undefined {
  return /--build-snapshot\s+"([^"$]*\/hook-snapshot\.cjs)"/.exec(text)?.[1];
}

/** A file's part of the launcher's key: `stat -L --printf '%a_%d-%i-%s-%Y'` (mode, device, inode, size, mtime). */
function statKey(path: string): string | undefined {
  try {
    const st = fs.statSync(path, { bigint: true });
    return `${(st.mode & 0o7777n).toString(8)}_${st.dev}-${st.ino}-${st.size}-${st.mtimeNs / 1_000_000_000n}`;
  } catch {
    return undefined;
  }
}

/** Why the launcher would not use the snapshot folder (its tests: a real folder of root's, mode 0700). */
function snapshotDirProblem(dir: string): SnapshotFacts['dirProblem'] {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return 'missing';
  }
  if (st.isSymbolicLink()) return 'a symlink';
  if (!st.isDirectory()) return 'not a folder';
  if (st.uid !== 0) return 'not owned by root';
  const mode = st.mode & 0o7777;
  return mode === 0o700 ? undefined : `mode ${mode.toString(8).padStart(4, '0')}, not 0700`;
}

/** What the launcher would start Node from, read the way it reads it (packaging/hook-launcher.sh.in). */
async function gatherSnapshot(
  paths: DoctorPaths,
  defaults: string | undefined,
  node: string | undefined,
  hook: HookFileFacts | undefined,
): Promise<SnapshotFacts> {
  const raw = defaultFileValue(defaults, 'VIRT_CONSOLELOG_SNAPSHOT');
  const mode = raw === '0' || raw === '1' ? raw : 'auto';
  const dir = defaultFileValue(defaults, 'VIRT_CONSOLELOG_SNAPSHOT_DIR') ?? paths.snapshotDir;
  const code = hook ? launcherSnapshotCode(readText(hook.path) ?? '') : undefined;
  const dirProblem = snapshotDirProblem(dir);
  const nodeKey = node ? statKey(node) : undefined;
  const codeKey = code ? statKey(code) : undefined;
  const key = dirProblem === undefined && nodeKey && codeKey ? `${nodeKey}_${codeKey}` : undefined;
  const has = (name: string) => key !== undefined && fs.existsSync(join(dir, name));
  let nodeHasOwn: boolean | undefined;
  if (node && mode !== '0') {
    const r = await execa(node, ['-p', 'process.config.variables.node_use_node_snapshot'], {
      reject: false,
      timeout: 5000,
      stdin: 'ignore',
    });
    nodeHasOwn = r.stdout === 'true' ? true : r.stdout === 'false' ? false : undefined;
  }
  return {
    mode,
    code,
    codeExists: code !== undefined && fs.existsSync(code),
    dir,
    dirProblem,
    key,
    present: {
      // The launcher runs a blob only if it is a regular file, not a symlink.
      blob:
        key !== undefined &&
        fs.lstatSync(join(dir, `hook-${key}.blob`), { throwIfNoEntry: false })?.isFile() === true,
      plain: has(`hook-${key}.plain`),
      failed: has(`hook-${key}.failed`),
      building: has(`.building-${key}`),
    },
    nodeHasOwn,
  };
}

/** Start of a process: clock ticks since boot (stat field 22) and ms since the epoch. */
export function processStart(procDir: string, pid: number): { ticks: number; atMs: number } | undefined {
  const stat = readText(join(procDir, String(pid), 'stat'));
  const uptime = readText(join(procDir, 'uptime'));
  if (!stat || !uptime) return undefined;
  // Fields after the command name (which may hold spaces and parentheses) start at field 3.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[19]);
  const up = Number(uptime.split(' ')[0]);
  if (!Number.isFinite(ticks) || !Number.isFinite(up)) return undefined;
  // /proc/uptime has 10 ms resolution, far finer than /proc/stat's whole-second btime.
  return { ticks, atMs: Math.round(Date.now() - up * 1000 + (ticks * 1000) / USER_HZ) };
}

/** The process a pid file names, if it is alive and is `name` (a stale pid file may name another). */
export function pidFromFile(paths: DoctorPaths, pidFile: string, name: string): number | undefined {
  const pid = Number(readText(pidFile)?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const comm = readText(join(paths.procDir, String(pid), 'comm'))?.trim();
  return comm === name ? pid : undefined;
}

export function gatherDaemons(paths: DoctorPaths): DaemonFacts[] {
  const out: DaemonFacts[] = [];
  for (const name of DAEMONS) {
    const pid = pidFromFile(paths, join(paths.runDir, `${name}.pid`), name);
    if (pid === undefined) continue;
    const start = processStart(paths.procDir, pid);
    out.push({ name, pid, startedAtMs: start?.atMs, startTicks: start?.ticks });
  }
  return out;
}

export function reloadRecordPath(stateDir: string, daemon: string): string {
  return join(stateDir, `reloaded-${daemon}`);
}

function gatherReloads(stateDir: string): ReloadRecord[] {
  const out: ReloadRecord[] = [];
  for (const daemon of DAEMONS) {
    const path = reloadRecordPath(stateDir, daemon);
    const text = readText(path, 256);
    if (!text) continue;
    const [pid, ticks] = text.trim().split(/\s+/).map(Number);
    if (!Number.isInteger(pid) || !Number.isInteger(ticks)) continue;
    out.push({ daemon, pid: pid as number, startTicks: ticks as number, atMs: fs.statSync(path).mtimeMs });
  }
  return out;
}

/** libvirt's qemu hook operations: journal entries of other kinds (detached jobs) prove nothing. */
const HOOK_OPS = new Set([
  'prepare',
  'start',
  'started',
  'stopped',
  'release',
  'migrate',
  'restore',
  'reconnect',
]);

function lastHookRun(config: Config): number | undefined {
  let entries;
  try {
    entries = readJournal(config);
  } catch {
    return undefined;
  }
  const newest = entries.find((e) => HOOK_OPS.has(e.op));
  const at = newest ? Date.parse(newest.at) : NaN;
  return Number.isFinite(at) ? at : undefined;
}

/** stdio_handler from qemu.conf; "logd" is libvirt's default. */
export function stdioHandler(qemuConf: string | undefined): string {
  let value = 'logd';
  for (const line of (qemuConf ?? '').split('\n')) {
    const m = /^\s*stdio_handler\s*=\s*"([^"]*)"/.exec(line);
    if (m) value = m[1] as string;
  }
  return value;
}

const probeName = () => `.virt-consolelog-doctor-${process.pid}-${randomBytes(4).toString('hex')}`;

/** Creates, writes and removes one file through `entry` (a path for a name): undefined, or why not. */
function writeProbe(entry: (name: string) => string): string | undefined {
  const C = fs.constants;
  const name = probeName();
  try {
    const fd = fs.openSync(entry(name), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(fd, 'x');
    } finally {
      fs.closeSync(fd);
      fs.unlinkSync(entry(name));
    }
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return `${err.code ?? 'error'}: ${err.message}`;
  }
}

type Space = Pick<FilesystemFacts, 'freeBytes' | 'totalBytes' | 'freeInodes' | 'totalInodes'>;

function space(path: string): Space {
  try {
    const s = fs.statfsSync(path);
    return {
      freeBytes: s.bavail * s.bsize,
      totalBytes: s.blocks * s.bsize,
      freeInodes: s.ffree,
      totalInodes: s.files,
    };
  } catch {
    return {};
  }
}

/** Writes and removes a file in `dir`: the only sure test that root can write there. */
export function probeWritable(dir: string): PathFacts {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    return { path: dir, problem: `${(e as NodeJS.ErrnoException).code ?? 'error'}: missing` };
  }
  if (!st.isDirectory()) return { path: dir, problem: 'not a directory' };
  const problem = writeProbe((name) => join(dir, name));
  if (problem) return { path: dir, problem };
  return { path: dir, problem: undefined, freeBytes: space(dir).freeBytes };
}

export interface MountEntry {
  id: number;
  mountPoint: string;
  fsType: string;
  readOnly: boolean;
}

/** /proc/PID/mountinfo lines (proc(5)): mount point field 5, options 6, then `-`, type, source, super options. */
export function parseMountinfo(text: string): MountEntry[] {
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash < 0) continue;
    const opts = [...(f[5] ?? '').split(','), ...(f[dash + 3] ?? '').split(',')];
    out.push({
      id: Number(f[0]),
      mountPoint: unescape(f[4] as string),
      fsType: unescape(f[dash + 1] as string),
      readOnly: opts.includes('ro'),
    });
  }
  return out;
}

const under = (dir: string, path: string) => dir === '/' || path === dir || path.startsWith(dir + '/');

/** The mount `path` (absolute, symlinks resolved) is on: the longest mount point above it, the newest one there. */
export function mountOf(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts)
    if (under(m.mountPoint, path) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  return best;
}

/** Mounts strictly below `dir` (one per mount point: the newest covers the others). */
export function mountsBelow(mounts: readonly MountEntry[], dir: string): MountEntry[] {
  const seen = new Map<string, MountEntry>();
  for (const m of mounts) if (m.mountPoint !== dir && under(dir, m.mountPoint)) seen.set(m.mountPoint, m);
  return [...seen.values()];
}

function realPath(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * The file systems of log_root, state_dir and every mount below log_root (an archive or a domain
 * folder mounted apart fills up on its own): read-only flag, free space and a write probe each.
 * Folders below log_root are opened without following symlinks (SafeDir).
 */
export function gatherFilesystems(
  config: Config,
  mountinfoText: string | undefined,
  store: PathFacts,
  state: PathFacts,
  live?: PathFacts,
): FilesystemFacts[] {
  const mounts = parseMountinfo(mountinfoText ?? '');
  const root = realPath(config.logRoot);
  const groups = new Map<string, FilesystemFacts>();
  const add = (path: string, holds: string, probe: () => { problem: string | undefined; space: Space }) => {
    const m = mountOf(mounts, path);
    const key = m ? `mount:${m.id}:${m.mountPoint}` : `path:${path}`;
    const known = groups.get(key);
    if (known) {
      known.holds.push(holds);
      return;
    }
    const r = probe();
    groups.set(key, {
      mountPoint: m?.mountPoint ?? path,
      fsType: m?.fsType,
      holds: [holds],
      readOnly: m?.readOnly ?? false,
      problem: r.problem,
      ...r.space,
    });
  };
  add(root, `log_root ${config.logRoot}`, () => ({ problem: store.problem, space: space(config.logRoot) }));
  add(realPath(config.stateDir), `state_dir ${config.stateDir}`, () => ({
    problem: state.problem,
    space: space(config.stateDir),
  }));
  if (live && !live.problem?.endsWith('missing'))
    add(realPath(config.liveDir), `live_dir ${config.liveDir}`, () => ({
      problem: live.problem,
      space: space(config.liveDir),
    }));
  for (const m of mountsBelow(mounts, root)) {
    const rel = m.mountPoint.slice(root.length + 1);
    add(m.mountPoint, `${rel} of log_root`, () => {
      let dir: SafeDir;
      try {
        dir = SafeDir.openBeneath(config.logRoot, rel.split('/'));
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        return { problem: `${err.code ?? 'refused'}: ${err.message}`, space: {} };
      }
      try {
        return { problem: writeProbe((name) => dir.entry(name)), space: space(`/proc/self/fd/${dir.fd}`) };
      } finally {
        dir.close();
      }
    });
  }
  return [...groups.values()];
}

/** One request through the configured transport, with a short connect timeout. */
export async function probePeer(config: Config, peer: string): Promise<PeerFacts> {
  const started = Date.now();
  const ms = () => Date.now() - started;
  let argv: string[];
  try {
    argv = peerArgv(config, peer, ['list', PROBE_UUID]).map((a) =>
      a.startsWith('ConnectTimeout=') ? `ConnectTimeout=${PEER_CONNECT_TIMEOUT_S}` : a,
    );
  } catch (e) {
    return { name: peer, problem: (e as Error).message, unreachable: true, ms: ms() };
  }
  const [file, ...args] = argv as [string, ...string[]];
  const r = await execa(file, args, {
    reject: false,
    timeout: PEER_TIMEOUT_MS,
    stdin: 'ignore',
    encoding: 'utf8',
  });
  if (r.timedOut)
    return {
      name: peer,
      problem: `no answer within ${PEER_TIMEOUT_MS / 1000} s`,
      unreachable: true,
      ms: ms(),
    };
  if (r.exitCode !== 0) {
    const stderr = String(r.stderr ?? '')
      .trim()
      .split('\n')
      .slice(-2)
      .join(' / ');
    const cause = r.exitCode === undefined ? (r.shortMessage ?? 'cannot run') : `exit ${r.exitCode}`;
    return {
      name: peer,
      problem: `${file} failed (${cause})${stderr ? `: ${stderr}` : ''}`,
      // ssh reports its own failures (connection, authentication) as 255.
      unreachable: r.exitCode === undefined || (config.transport === 'ssh' && r.exitCode === 255),
      ms: ms(),
    };
  }
  try {
    const listing = parseListing(String(r.stdout), PROBE_UUID);
    return { name: peer, problem: undefined, exporter: listing.exporter, ms: ms() };
  } catch (e) {
    return {
      name: peer,
      problem: `reached, but the answer is not an export listing: ${(e as Error).message}`,
      ms: ms(),
    };
  }
}

export async function gatherFacts(
  config: Config,
  configPath: string,
  configErrors: string[],
  opts: GatherOptions = {},
): Promise<DoctorFacts> {
  const paths = opts.paths ?? SYSTEM_PATHS;
  const exists = (p: string) => isExecutableFile(p)?.ok === true;
  // Before the host facts: their cache write would create a missing state dir.
  const store = probeWritable(config.logRoot);
  const state = probeWritable(config.stateDir);
  const live = probeWritable(config.liveDir);
  let mountinfo: string | undefined;
  try {
    // readFileSync reads to the end: one read(2) of procfs may stop short of it.
    mountinfo = fs.readFileSync(paths.mountinfo, 'utf8');
  } catch {
    mountinfo = undefined;
  }
  const filesystems = gatherFilesystems(config, mountinfo, store, state, live);
  const hooks = gatherHooks(paths.hooksDir);
  // Read once: the launcher takes both its Node and its snapshot settings from it.
  const defaults = readText(paths.defaultFile);
  const nodeAndSnapshot = gatherNode(paths, defaults).then(async (node) => ({
    node,
    snapshot: await gatherSnapshot(paths, defaults, node.path, hooks.hooks[0]),
  }));
  const [hostFacts, { node, snapshot }, peers] = await Promise.all([
    getHostFacts(config, undefined, paths.probe),
    nodeAndSnapshot,
    opts.peers === false
      ? Promise.resolve(undefined)
      : Promise.all(config.peers.map((p) => probePeer(config, p))),
  ]);
  const virtlogdSocket = join(paths.runDir, 'libvirt', 'virtlogd-sock');
  let keyMode: number | undefined;
  let keyExists = false;
  try {
    keyMode = fs.statSync(config.sshKey).mode & 0o7777;
    keyExists = true;
  } catch {
    keyExists = false;
  }
  return {
    configPath,
    configErrors,
    hostName: config.hostName,
    libvirt: { version: hostFacts.libvirtVersion, binaryFound: paths.probe.libvirtDaemons.some(exists) },
    qemu: {
      version: hostFacts.qemuVersion,
      binaryFound: qemuCandidates(undefined, paths.probe.qemuDirs).some(exists),
    },
    virtlogd: {
      pid: pidFromFile(paths, join(paths.runDir, 'virtlogd.pid'), 'virtlogd'),
      socket: fs.existsSync(virtlogdSocket) ? virtlogdSocket : undefined,
    },
    stdioHandler: stdioHandler(readText(paths.qemuConf)),
    hooksDir: paths.hooksDir,
    ...hooks,
    node,
    snapshot,
    daemons: gatherDaemons(paths),
    reloads: gatherReloads(config.stateDir),
    lastHookRunMs: lastHookRun(config),
    store,
    state,
    live,
    filesystems,
    domainCapBytes: config.domainCapBytes,
    transport: config.transport,
    sshUser: config.sshUser,
    key: {
      path: config.sshKey,
      exists: keyExists,
      mode: keyMode,
      publicExists: fs.existsSync(`${config.sshKey}.pub`),
    },
    peers,
    configuredPeers: config.peers,
  };
}
