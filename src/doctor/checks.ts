// The doctor's judgement (pure): facts gathered from the host in, one verdict per check out, each
// failing or doubtful one with the command that fixes it.
// Long: one small pure verdict per doctor check; apart they would share only their types.
import { MIN_LIBVIRT, MIN_QEMU, versionAtLeast } from '../host/facts.js';
import { formatBytes } from '../util/bytes.js';

/** libvirt runs /etc/libvirt/hooks/qemu.d/ entries since 6.5.0 (docs/LIBVIRT-FACTS.md). */
export const MIN_LIBVIRT_QEMU_D = '6.5.0';
/** `release end` carries the shutoff reason (e.g. "migrated") since libvirt 10.5.0. */
export const MIN_LIBVIRT_RELEASE_REASON = '10.5.0';
/** The oldest Node.js the hook and CLI run on (package.json engines). */
export const MIN_NODE = '18.19.0';

export type Status = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  /** Short stable name: config, libvirt, qemu, virtlogd, hook, hook-node, hook-snapshot, hook-seen, store, state, disk:MOUNT, key, peer:NAME. */
  name: string;
  status: Status;
  message: string;
  /** What to do about it (warn and fail only). */
  fix?: string;
}

export interface DaemonFacts {
  name: 'libvirtd' | 'virtqemud';
  pid: number;
  /** Process start, ms since the epoch; undefined when /proc could not tell. */
  startedAtMs: number | undefined;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22): tells a reused pid apart. */
  startTicks: number | undefined;
}

/** A reload the package's maintainer script sent (state_dir/reloaded-DAEMON). */
export interface ReloadRecord {
  daemon: string;
  pid: number;
  startTicks: number;
  atMs: number;
}

export interface HookFileFacts {
  path: string;
  /** Regular file with an execute bit (libvirt skips other entries). */
  executable: boolean;
  ctimeMs: number;
  /** The hook.mjs the launcher runs, read from the launcher itself. */
  target: string | undefined;
  targetExists: boolean;
}

/** What the hook launcher starts Node from (VIRT_CONSOLELOG_SNAPSHOT, packaging/hook-launcher.sh.in). */
export interface SnapshotFacts {
  /** VIRT_CONSOLELOG_SNAPSHOT as the launcher reads it: 0 never, 1 always, any other value auto. */
  mode: 'auto' | '1' | '0';
  /** The snapshot code the launcher names (hook-snapshot.cjs); undefined for a launcher without one. */
  code: string | undefined;
  codeExists: boolean;
  /** VIRT_CONSOLELOG_SNAPSHOT_DIR (default /var/cache/virt-consolelog). */
  dir: string;
  /** Undefined when the launcher uses the folder; else why not. */
  dirProblem:
    'missing' | 'a symlink' | 'not a folder' | 'not owned by root' | `mode ${string}, not 0700` | undefined;
  /** The launcher's name for this Node binary and snapshot code (its files are hook-KEY.*). */
  key: string | undefined;
  /** Which of hook-KEY.blob, .plain, .failed and .building-KEY are there. */
  present: { blob: boolean; plain: boolean; failed: boolean; building: boolean };
  /** The Node has its own built-in start-up snapshot (process.config.variables.node_use_node_snapshot). */
  nodeHasOwn: boolean | undefined;
}

export interface PathFacts {
  path: string;
  /** Undefined when writable; otherwise what went wrong (ENOENT, EACCES, not a directory, ...). */
  problem: string | undefined;
  freeBytes?: number;
}

/** One file system the store or state lives on (log_root's, state_dir's, each mount below log_root). */
export interface FilesystemFacts {
  /** Mount point (/proc/self/mountinfo); the folder itself when mountinfo could not tell. */
  mountPoint: string;
  fsType: string | undefined;
  /** What of ours is on it: `log_root`, `state_dir`, or a folder below log_root mounted separately. */
  holds: string[];
  /** Mounted read-only (mount or superblock options). */
  readOnly: boolean;
  /** Undefined when a file could be created and removed there; else why not (EROFS, ENOSPC, ...). */
  problem: string | undefined;
  freeBytes?: number;
  totalBytes?: number;
  freeInodes?: number;
  /** 0 for file systems without an inode limit (btrfs, tmpfs without nr_inodes). */
  totalInodes?: number;
}

export interface PeerFacts {
  name: string;
  /** Undefined when the peer's export answered a listing. */
  problem: string | undefined;
  /** The peer could not be reached at all (as opposed to reached but refusing). */
  unreachable?: boolean;
  exporter?: string;
  ms: number;
}

export interface DoctorFacts {
  configPath: string;
  configErrors: string[];
  hostName: string;
  libvirt: { version: string | undefined; binaryFound: boolean };
  qemu: { version: string | undefined; binaryFound: boolean };
  virtlogd: { pid: number | undefined; socket: string | undefined };
  /** qemu.conf stdio_handler ("logd" when unset). */
  stdioHandler: string;
  hooksDir: string;
  /** Our launcher(s) in qemu.d (recognised by content). */
  hooks: HookFileFacts[];
  /** Other executable qemu hooks (the main `qemu` script, other qemu.d entries). */
  otherHooks: { path: string; ctimeMs: number }[];
  node: { path: string | undefined; version: string | undefined };
  snapshot: SnapshotFacts;
  daemons: DaemonFacts[];
  reloads: ReloadRecord[];
  /** Time of the newest hook run (a libvirt event) in the plugin's journal, ms since the epoch. */
  lastHookRunMs: number | undefined;
  store: PathFacts;
  state: PathFacts;
  /** live_dir: where virtlogd writes the live logs (libvirt's QEMU log folder by default). */
  live: PathFacts;
  filesystems: FilesystemFacts[];
  /** domain_cap_bytes: less free space than one domain may use is worth a warning. */
  domainCapBytes: number;
  transport: 'ssh' | 'command';
  sshUser: string;
  key: { path: string; exists: boolean; mode: number | undefined; publicExists: boolean };
  /** Undefined when the peer probe was skipped (--no-peers). */
  peers: PeerFacts[] | undefined;
  configuredPeers: string[];
}

const reloadCommand = (d: string) =>
  `systemctl reload ${d}  (without systemd: kill -HUP "$(cat /run/${d}.pid)"); or: virt-consolelog doctor --reload`;

function versionCheck(name: 'libvirt' | 'qemu', f: DoctorFacts): Check {
  const { version, binaryFound } = f[name];
  const label = name === 'libvirt' ? 'libvirt' : 'QEMU';
  const min = name === 'libvirt' ? MIN_LIBVIRT : MIN_QEMU;
  if (!binaryFound)
    return {
      name,
      status: 'fail',
      message: `no ${name === 'libvirt' ? 'libvirtd or virtqemud' : 'qemu-system binary'} found`,
      fix: `install ${name === 'libvirt' ? 'libvirt-daemon-driver-qemu' : 'qemu-system-x86 (or the QEMU for your guests)'}`,
    };
  if (!version)
    return {
      name,
      status: 'warn',
      message: `${label} is installed but its --version did not answer`,
      fix: `run its --version by hand to see why`,
    };
  if (!versionAtLeast(version, min))
    return {
      name,
      status: 'fail',
      message: `${label} ${version} cannot log chardevs (needs >= ${min}); guests keep their consoles unlogged`,
      fix: `upgrade ${label} to >= ${min}`,
    };
  if (name === 'libvirt' && !versionAtLeast(version, MIN_LIBVIRT_QEMU_D))
    return {
      name,
      status: 'fail',
      message: `libvirt ${version} does not run hooks from qemu.d (needs >= ${MIN_LIBVIRT_QEMU_D})`,
      fix: `upgrade libvirt, or call ${f.hooks[0]?.path ?? 'the hook'} from /etc/libvirt/hooks/qemu with all its arguments and stdin`,
    };
  const note =
    name === 'libvirt' && !versionAtLeast(version, MIN_LIBVIRT_RELEASE_REASON)
      ? ` (before ${MIN_LIBVIRT_RELEASE_REASON} "release end" carries no reason: a migration away is inferred)`
      : '';
  return { name, status: 'ok', message: `${label} ${version}${note}` };
}

function virtlogdCheck(f: DoctorFacts): Check {
  if (f.stdioHandler !== 'logd')
    return {
      name: 'virtlogd',
      status: 'warn',
      message: `qemu.conf sets stdio_handler = "${f.stdioHandler}": QEMU writes the logs itself, without virtlogd's rotation`,
      fix: 'set stdio_handler = "logd" in /etc/libvirt/qemu.conf and restart the daemon when no guest runs',
    };
  if (f.virtlogd.pid !== undefined)
    return { name: 'virtlogd', status: 'ok', message: `running (pid ${f.virtlogd.pid})` };
  if (f.virtlogd.socket)
    return {
      name: 'virtlogd',
      status: 'ok',
      message: `not running; its socket ${f.virtlogd.socket} starts it on demand`,
    };
  return {
    name: 'virtlogd',
    status: 'fail',
    message: 'not running and no socket to start it: guests with <log> fail to start',
    fix: 'systemctl enable --now virtlogd.socket  (without systemd: virtlogd -d)',
  };
}

function hookChecks(f: DoctorFacts): Check[] {
  const hook = f.hooks[0];
  if (!hook)
    return [
      {
        name: 'hook',
        status: 'fail',
        message: `no virt-consolelog hook in ${f.hooksDir}/qemu.d`,
        fix: 'reinstall the package (apt install --reinstall virt-consolelog, or dnf reinstall virt-consolelog)',
      },
    ];
  const out: Check[] = [];
  if (f.hooks.length > 1)
    out.push({
      name: 'hook',
      status: 'fail',
      message: `${f.hooks.length} virt-consolelog hooks in qemu.d: ${f.hooks.map((h) => h.path).join(', ')}; each event would be handled twice`,
      fix: 'remove all but one',
    });
  else if (!hook.executable)
    out.push({
      name: 'hook',
      status: 'fail',
      message: `${hook.path} is not an executable file: libvirt skips it`,
      fix: `chmod 0755 ${hook.path}`,
    });
  else if (!hook.targetExists)
    out.push({
      name: 'hook',
      status: 'fail',
      message: `${hook.path} runs ${hook.target ?? '(no hook.mjs named)'}, which does not exist: every event passes unlogged`,
      fix: 'reinstall the package',
    });
  else out.push({ name: 'hook', status: 'ok', message: `${hook.path} -> ${hook.target}` });

  if (!f.node.path)
    out.push({
      name: 'hook-node',
      status: 'fail',
      message:
        'no Node.js at /usr/bin/node, /usr/bin/nodejs, /usr/local/bin/node or VIRT_CONSOLELOG_NODE: guests run unlogged',
      fix: 'install nodejs (>= 18.19), or set VIRT_CONSOLELOG_NODE in /etc/default/virt-consolelog',
    });
  else if (!f.node.version || !versionAtLeast(f.node.version, MIN_NODE))
    out.push({
      name: 'hook-node',
      status: 'fail',
      message: `${f.node.path} is Node.js ${f.node.version ?? '(unknown version)'}; the hook needs >= ${MIN_NODE}`,
      fix: 'install nodejs >= 18.19, or point VIRT_CONSOLELOG_NODE in /etc/default/virt-consolelog at one',
    });
  else out.push({ name: 'hook-node', status: 'ok', message: `${f.node.path} (Node.js ${f.node.version})` });

  out.push(snapshotCheck(f, hook.path));
  out.push(hookSeenCheck(f, hook));
  return out;
}

/**
 * Has the running daemon noticed the hook? libvirt looks for qemu hooks only at daemon start and
 * on SIGHUP (docs/LIBVIRT-FACTS.md: discovery); once any hook was found, qemu.d is re-read on every
 * call. So the hook is seen when the daemon started after it appeared (its ctime), when a reload
 * we recorded reached this very process afterwards, when the journal shows a hook run since the
 * daemon started, or when another hook already existed at start.
 */
export function hookSeenCheck(f: DoctorFacts, hook: HookFileFacts): Check {
  if (f.daemons.length === 0)
    return {
      name: 'hook-seen',
      status: 'warn',
      message: 'neither libvirtd nor virtqemud is running; it will find the hook when it starts',
      fix: 'start the daemon (systemctl start libvirtd or virtqemud)',
    };
  const unseen: DaemonFacts[] = [];
  const why: string[] = [];
  for (const d of f.daemons) {
    const label = `${d.name} (pid ${d.pid})`;
    if (d.startedAtMs !== undefined && d.startedAtMs >= hook.ctimeMs) {
      why.push(`${label} started after the hook appeared`);
      continue;
    }
    const reload = f.reloads.find(
      (r) =>
        r.daemon === d.name && r.pid === d.pid && r.startTicks === d.startTicks && r.atMs >= hook.ctimeMs,
    );
    if (reload) {
      why.push(`${label} was reloaded after the hook appeared`);
      continue;
    }
    if (f.lastHookRunMs !== undefined && d.startedAtMs !== undefined && f.lastHookRunMs >= d.startedAtMs) {
      why.push(`${label} ran the hook at ${new Date(f.lastHookRunMs).toISOString()} (journal)`);
      continue;
    }
    const earlier = f.otherHooks.find((h) => d.startedAtMs !== undefined && h.ctimeMs < d.startedAtMs);
    if (earlier) {
      why.push(`${label} found ${earlier.path} at start, so it reads qemu.d on every event`);
      continue;
    }
    unseen.push(d);
  }
  if (unseen.length === 0) return { name: 'hook-seen', status: 'ok', message: why.join('; ') };
  return {
    name: 'hook-seen',
    status: 'fail',
    message:
      unseen.map((d) => `${d.name} (pid ${d.pid})`).join(', ') +
      ' started before the hook appeared and no reload since is recorded: it may not run the hook',
    fix: unseen.map((d) => reloadCommand(d.name)).join('; '),
  };
}

/** What the launcher does about a start-up snapshot, in its own order of tests. */
export function snapshotCheck(f: DoctorFacts, hookPath: string): Check {
  const name = 'hook-snapshot';
  const s = f.snapshot;
  const node = f.node.path;
  if (!node) return { name, status: 'skip', message: 'no Node.js for the hook' };
  if (s.mode === '0')
    return { name, status: 'ok', message: 'off (VIRT_CONSOLELOG_SNAPSHOT=0): the hook starts Node plainly' };
  if (!s.code) return { name, status: 'skip', message: 'this hook launcher has no start-up snapshot' };
  const build = `${hookPath} --build-snapshot`;
  const slower =
    s.nodeHasOwn === false ? ' (this Node has no start-up snapshot of its own: each run is slower)' : '';
  if (!s.codeExists)
    return {
      name,
      status: 'warn',
      message: `${s.code} is missing: the hook starts Node plainly${slower}`,
      fix: 'reinstall the package',
    };
  if (s.dirProblem === 'missing') {
    if (s.mode === '1')
      return {
        name,
        status: 'warn',
        message: `${s.dir} is missing: the next hook run makes it and prepares the snapshot in the background`,
        fix: build,
      };
    if (s.nodeHasOwn)
      return {
        name,
        status: 'ok',
        message: `${node} starts plainly (its own start-up snapshot; no ${s.dir})`,
      };
    return {
      name,
      status: 'warn',
      message: `${s.dir} is missing, so auto prepares nothing: the hook starts Node plainly${slower}`,
      fix: `install -d -m 0700 ${s.dir} && ${build}`,
    };
  }
  if (s.dirProblem !== undefined || !s.key)
    return {
      name,
      status: 'warn',
      message: `${s.dir} not used (${s.dirProblem ?? 'its files could not be named'}): the hook starts Node plainly${slower}`,
      // A blob is code root runs: only a folder nobody else can write is used.
      fix:
        s.dirProblem === 'a symlink' || s.dirProblem === 'not a folder'
          ? `rm ${s.dir} && install -d -m 0700 ${s.dir} && ${build}`
          : `chown root:root ${s.dir} && chmod 0700 ${s.dir} && ${build}`,
    };
  const file = (suffix: string) => `${s.dir}/hook-${s.key}.${suffix}`;
  if (s.present.failed)
    return {
      name,
      status: 'warn',
      message: `preparing the snapshot for ${node} failed (${file('failed')}): the hook starts Node plainly${slower}`,
      fix: `rm ${file('failed')} && ${build}`,
    };
  if (s.mode !== '1' && s.present.plain)
    return { name, status: 'ok', message: `${node} starts plainly: it has its own start-up snapshot (auto)` };
  if (s.present.blob) return { name, status: 'ok', message: `the hook starts ${node} from ${file('blob')}` };
  if (s.present.building)
    return { name, status: 'ok', message: `being prepared for ${node} (${s.dir}/.building-${s.key})` };
  return {
    name,
    status: 'warn',
    message: `nothing prepared for ${node} and this hook (Node.js or the package changed since): the next hook run prepares it in the background`,
    fix: build,
  };
}

function pathCheck(name: 'store' | 'state', p: PathFacts, mode: string): Check {
  if (p.problem)
    return {
      name,
      status: 'fail',
      message: `${p.path} is not writable: ${p.problem}`,
      fix:
        p.problem.startsWith('ENOENT') || p.problem.includes('missing')
          ? `mkdir -p -m ${mode} ${p.path}`
          : /^(EROFS|ENOSPC|EDQUOT)/.test(p.problem)
            ? `see the disk: line of its file system`
            : `make ${p.path} a directory root can write (it must not be a symlink)`,
    };
  const free = p.freeBytes === undefined ? '' : `, ${formatBytes(p.freeBytes)} free`;
  return { name, status: 'ok', message: `${p.path} writable${free}` };
}

/** live_dir may be missing (the hook makes it at a guest's start); unwritable is a failure. */
function liveCheck(p: PathFacts): Check {
  if (p.problem?.endsWith('missing'))
    return {
      name: 'live-dir',
      status: 'ok',
      message: `${p.path} does not exist yet: libvirt's packages ship it, and the hook makes it at a guest's start`,
    };
  if (p.problem)
    return {
      name: 'live-dir',
      status: 'fail',
      message: `${p.path} (live_dir, where virtlogd writes the live logs) is not writable: ${p.problem}`,
      fix: /^(EROFS|ENOSPC|EDQUOT)/.test(p.problem)
        ? 'see the disk: line of its file system'
        : `make ${p.path} a directory root can write (it must not be a symlink)`,
    };
  return { name: 'live-dir', status: 'ok', message: `${p.path} writable (live_dir)` };
}

/** Below this a file system counts as full: a seal (up to virtlogd's bound per log) fails there. */
export const FULL_BYTES = 1024 * 1024;
/** Below this share of its size free, a file system is nearly full. */
export const LOW_FREE_SHARE = 0.05;

/** One verdict per file system: read-only and full fail, nearly full warns; each with the fix. */
export function filesystemCheck(fs: FilesystemFacts, domainCapBytes: number): Check {
  const name = `disk:${fs.mountPoint}`;
  // The name carries the mount point already.
  const what = `${fs.fsType ?? 'file system'} holding ${fs.holds.join(', ')}`;
  const space =
    fs.freeBytes === undefined
      ? ''
      : `${formatBytes(fs.freeBytes)} free` +
        (fs.totalBytes ? ` of ${formatBytes(fs.totalBytes)}` : '') +
        (fs.totalInodes ? `, ${fs.freeInodes ?? 0} of ${fs.totalInodes} inodes free` : '');
  const freeUp = `free space on ${fs.mountPoint} (or grow it); for our share: lower domain_cap_bytes or global_cap_bytes and run virt-consolelog prune --all`;
  const lost = 'seals there fail: a start that truncates a log loses the boot it held';
  if (fs.readOnly || fs.problem?.startsWith('EROFS'))
    return {
      name,
      status: 'fail',
      message: `${what}: mounted read-only, ${lost}`,
      fix: `mount -o remount,rw ${fs.mountPoint} (if the kernel made it read-only after an I/O error: dmesg, fsck first)`,
    };
  const full =
    fs.problem?.startsWith('ENOSPC') ||
    fs.problem?.startsWith('EDQUOT') ||
    (fs.freeBytes !== undefined && fs.freeBytes < FULL_BYTES) ||
    (!!fs.totalInodes && fs.freeInodes === 0);
  if (full)
    return {
      name,
      status: 'fail',
      message: `${what}: full (${space || fs.problem}): ${lost} (the hook first deletes that domain's oldest segments)`,
      fix: freeUp,
    };
  if (fs.problem)
    return {
      name,
      status: 'fail',
      message: `${what}: not writable: ${fs.problem}`,
      fix: `make ${fs.mountPoint} writable by root`,
    };
  const low =
    fs.freeBytes !== undefined &&
    ((fs.totalBytes !== undefined && fs.freeBytes < fs.totalBytes * LOW_FREE_SHARE) ||
      (domainCapBytes > 0 && fs.freeBytes < domainCapBytes) ||
      (!!fs.totalInodes && (fs.freeInodes ?? 0) < fs.totalInodes * LOW_FREE_SHARE));
  if (low)
    return {
      name,
      status: 'warn',
      message: `${what}: nearly full (${space}; one domain may use ${formatBytes(domainCapBytes)})`,
      fix: freeUp,
    };
  return { name, status: 'ok', message: `${what}: writable${space ? `, ${space}` : ''}` };
}

function keyCheck(f: DoctorFacts): Check {
  const needed = f.transport === 'ssh' && f.configuredPeers.length > 0;
  const make = 'virt-consolelog keys --generate';
  if (!f.key.exists)
    return {
      name: 'key',
      status: needed ? 'fail' : 'warn',
      message: `no transfer key at ${f.key.path}${needed ? '' : ' (needed once peers are configured)'}`,
      fix: make,
    };
  if (f.key.mode !== undefined && (f.key.mode & 0o077) !== 0)
    return {
      name: 'key',
      status: 'fail',
      message: `${f.key.path} has mode ${f.key.mode.toString(8).padStart(4, '0')}: ssh refuses a key others can read`,
      fix: `chmod 0600 ${f.key.path}`,
    };
  const pub = f.key.publicExists ? ` (peers authorize the line 'virt-consolelog keys' prints)` : '';
  return { name: 'key', status: 'ok', message: `${f.key.path}${needed ? pub : ''}` };
}

function peerChecks(f: DoctorFacts): Check[] {
  if (f.configuredPeers.length === 0)
    return [
      {
        name: 'peers',
        status: 'skip',
        message: 'no peers configured (history moves only through metadata hints)',
      },
    ];
  if (!f.peers) return [{ name: 'peers', status: 'skip', message: 'peer probes skipped (--no-peers)' }];
  return f.peers.map((p) => {
    if (!p.problem)
      return {
        name: `peer:${p.name}`,
        status: 'ok' as const,
        message: `export answered in ${p.ms} ms${p.exporter && p.exporter !== p.name ? ` (host name ${p.exporter})` : ''}`,
      };
    const fix =
      f.transport === 'ssh'
        ? p.unreachable
          ? `check that ${p.name} is reachable by ssh as ${f.sshUser}, and add the line 'virt-consolelog keys' prints here to ~${f.sshUser}/.ssh/authorized_keys there`
          : `the forced command on ${p.name} must be /usr/bin/virt-consolelog serve-export (virt-consolelog installed there)`
        : 'check transport_command in the configuration';
    return { name: `peer:${p.name}`, status: 'fail' as const, message: p.problem, fix };
  });
}

/** Every check, in the order they are printed. */
export function evaluate(f: DoctorFacts): Check[] {
  const checks: Check[] = [];
  checks.push(
    f.configErrors.length
      ? {
          name: 'config',
          status: 'fail',
          message: `${f.configPath}: ${f.configErrors.join('; ')}`,
          fix: `edit ${f.configPath}`,
        }
      : { name: 'config', status: 'ok', message: `${f.configPath} (host name ${f.hostName})` },
  );
  checks.push(versionCheck('libvirt', f), versionCheck('qemu', f), virtlogdCheck(f));
  checks.push(...hookChecks(f));
  checks.push(pathCheck('store', f.store, '0750'), pathCheck('state', f.state, '0700'), liveCheck(f.live));
  checks.push(...f.filesystems.map((fs) => filesystemCheck(fs, f.domainCapBytes)));
  checks.push(keyCheck(f), ...peerChecks(f));
  return checks;
}

export function problemCount(checks: readonly Check[]): number {
  return checks.filter((c) => c.status === 'fail').length;
}

/** The human report: one line per check, the fix under each problem. */
export function formatReport(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(width)}  ${c.message}`);
    if (c.fix && (c.status === 'fail' || c.status === 'warn'))
      lines.push(`${''.padEnd(6 + width)}  fix: ${c.fix}`);
  }
  const problems = problemCount(checks);
  const warnings = checks.filter((c) => c.status === 'warn').length;
  lines.push(
    problems === 0
      ? `No problems found${warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}.`
      : `${problems} problem${problems > 1 ? 's' : ''} found${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}.`,
  );
  return lines.join('\n') + '\n';
}
