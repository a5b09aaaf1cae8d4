// Lab harness: N private libvirt "hosts" on one machine, each in its own mount (+ UTS, + optional
// network) namespace, with its own /etc/libvirt, /run, /var/lib/libvirt, /var/log/libvirt, virtlogd,
// libvirtd and host_uuid. Tests never touch the machine's real /etc/libvirt.
//
// API (see also guest.ts for the sequence guest + domain XML, scenario.ts for lifecycle helpers,
// checker.ts for the completeness checker):
//
//   const lab = await startLab({ hosts: ['lab-a', 'lab-b'], hook: true });   // defaults shown
//   test.after.always(() => lab.stop());        // also stopped on process exit / SIGINT / SIGTERM
//   const a = lab.host('lab-a');
//   await a.virsh('list', '--all');             // stdout; throws with stderr on failure
//   await a.virshResult('domstate', 'x');       // execa result, never throws
//   await a.cli('show', 'guest1');              // runs dist/virt-consolelog.mjs INSIDE the host, never throws
//   await a.exec(['ls', '/var/log/libvirt']);   // any argv inside the host (nsenter), never throws
//   a.outside('/var/log/libvirt/consolelog')    // the same path as seen from the test process
//   a.writeConfig('log_root = ...\n')           // /etc/virt-consolelog/virt-consolelog.conf of that host
//   await a.restartLibvirtd(); await a.reloadLibvirtd() (SIGHUP);
//   await a.restartVirtlogd() (stop + start: QEMU's log pipes break, output is lost: that is libvirt)
//   await a.reexecVirtlogd() (SIGUSR1: re-exec keeping every open log, libvirt's upgrade path)
//   await a.installHook() / a.removeHook()      // qemu.d/50-virt-consolelog + SIGHUP (docs/LIBVIRT-FACTS.md: discovery)
//   a.libvirtdLog() / a.virtlogdLog()           // daemon logs (hook stderr lands in libvirtd's log)
//   lab.dir: /tmp/vcl-lab-XXXXXX (shared by all hosts: images/, sockets/ for migration, tmux.sock)
//   lab.peerExec: `<lab.dir>/peer-exec HOST ARGS...` runs the CLI inside lab host HOST (from anywhere,
//     also from inside another host): labTransportConfig(lab) = the config lines for transport
//     "command" (`transport_command = [ "<peerExec>", "{host}", "serve-export" ]`).
//
// Options (LabOptions): hosts (count or names), hook (default true: installed before libvirtd starts),
// virtlogd { maxSize, maxBackups } (virtlogd.conf), config (virt-consolelog.conf text, or per host
// name), sharedNova (one /var/lib/nova/instances for all hosts, like NFS; default: private per host),
// network (each host gets its own network namespace, address 10.77.0.<i+1>/24 on a bridge in a
// private "switch" namespace, and /etc/hosts naming every lab host; sshd is not started here).
//
// Rules for lab test files: one lab per file, `test.serial` for everything that uses it, titles that
// start with "lab: " (so `ava --match='!lab*'` leaves them out), and the lab started lazily so that a
// filtered-out file starts nothing (ava runs test.before hooks even when no test matches):
//   const lab = lazyLab({ hook: true });
//   test.after.always(() => lab.stop());
//   test.serial('lab: ...', async (t) => { const l = await lab.get(); ... });
// TCG guests (docs/LAB.md).
// Teardown kills every process of each host's mount namespace by pid (QEMU included); the mounts die
// with the namespace; the lab dir is removed (VCL_LAB_KEEP=1 keeps it for post-mortems). A lab whose
// owning process died (crash, SIGKILL) is reaped by the next startLab (lab.json under /tmp/vcl-lab-*).
// Mount points the machine lacks (/var/lib/libvirt, /etc/virt-consolelog, ...) are created empty on
// the real root: bind mounts need them; nothing is ever written into them from outside a namespace.
import { execa, type Options as ExecaOptions, type Result, type ResultPromise } from 'execa';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  openSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { patient } from './patience.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = join(REPO_ROOT, 'dist');
export const CLI_JS = join(DIST, 'virt-consolelog.mjs');
export const HOOK_LAUNCHER = join(DIST, 'virt-consolelog-hook');
export const HOOK_NAME = '50-virt-consolelog';

/** Folders each host gets privately: inside path -> folder name under the host dir. */
export const PRIVATE_MOUNTS: ReadonlyArray<readonly [string, string]> = [
  ['/run', 'run'],
  ['/etc/libvirt', 'etc-libvirt'],
  ['/var/lib/libvirt', 'var-lib-libvirt'],
  ['/var/log/libvirt', 'var-log-libvirt'],
  ['/etc/virt-consolelog', 'etc-virt-consolelog'],
  ['/var/lib/virt-consolelog', 'var-lib-virt-consolelog'],
  ['/var/lib/nova', 'var-lib-nova'],
];

/**
 * libvirt's QEMU capability cache (/var/cache/libvirt): one folder shared by every lab on the machine
 * (probing QEMU takes seconds), never the machine's own.
 */
export const CAPS_CACHE = '/tmp/vcl-lab-cache';

export interface LabOptions {
  /** Number of hosts (named lab-a, lab-b, ...) or their names (= hostnames). Default 2. */
  hosts?: number | string[];
  /** Install the built hook before libvirtd starts. Default true; false = baseline (plain libvirt). */
  hook?: boolean;
  /** virtlogd.conf settings. */
  virtlogd?: { maxSize?: number; maxBackups?: number };
  /** virt-consolelog.conf text for every host, or per host (e.g. with labTransportConfig(lab)). Default: none. */
  config?: string | ((hostName: string, lab: Lab) => string);
  /** One /var/lib/nova shared by all hosts (NFS-like instances folder). Default false. */
  sharedNova?: boolean;
  /** Own network namespace + address per host (for ssh between hosts). Default false. */
  network?: boolean;
  /** Seconds to wait for a daemon to come up. Default 30. */
  startTimeoutS?: number;
}

export type RunResult = Result<{ reject: false }>;
/** execa's subprocess promise for exec(): resolves to a RunResult, also has kill(), pid, streams. */
export type RunPromise = ResultPromise<{ reject: false }> & Promise<RunResult>;

export interface LabHost {
  readonly name: string;
  /** libvirt URI reaching this host from outside (virsh -c). */
  readonly uri: string;
  /** pid of the namespace holder (`unshare ... sleep infinity`). */
  readonly pid: number;
  /** This host's folder under the lab dir. */
  readonly dir: string;
  /** Address when the lab has `network: true`. */
  readonly address?: string;
  readonly hostUuid: string;
  /** Private folders as seen from outside (for assertions). */
  readonly paths: {
    run: string;
    etcLibvirt: string;
    varLibLibvirt: string;
    varLogLibvirt: string;
    etcVcl: string;
    varLibVcl: string;
    nova: string;
  };
  /** Maps an absolute path as seen inside this host to the path the test process can open. */
  outside(insidePath: string): string;
  /** Runs argv inside the host; the promise is execa's subprocess (kill(), stdout stream...). Never rejects. */
  exec(argv: string[], opts?: ExecaOptions): RunPromise;
  virsh(...args: string[]): Promise<string>;
  virshResult(...args: string[]): Promise<RunResult>;
  cli(...args: string[]): Promise<RunResult>;
  writeConfig(text: string): void;
  hookInstalled(): boolean;
  /** The plugin's launcher, or (benchmarks) another hook script in its place. */
  installHook(script?: string): Promise<void>;
  removeHook(): Promise<void>;
  restartLibvirtd(): Promise<void>;
  reloadLibvirtd(): Promise<void>;
  restartVirtlogd(): Promise<void>;
  reexecVirtlogd(): Promise<void>;
  libvirtdPid(): number | undefined;
  virtlogdPid(): number | undefined;
  libvirtdLog(): string;
  virtlogdLog(): string;
}

export interface Lab {
  readonly dir: string;
  readonly imagesDir: string;
  readonly socketsDir: string;
  /** Script `peer-exec HOST ARGS...`: runs dist/virt-consolelog.mjs ARGS inside lab host HOST. */
  readonly peerExec: string;
  /** tmux server socket used by consoleReadLine (scenario.ts). */
  readonly tmuxSocket: string;
  readonly hosts: LabHost[];
  host(name: string): LabHost;
  /** Idempotent; also runs on process exit and SIGINT/SIGTERM. */
  stop(): Promise<void>;
}

interface LabState {
  owner: { pid: number; start: string };
  hosts: Array<{ name: string; pid: number; ns: string; dir: string }>;
  switchPid?: number;
}

const DAEMON_ENV = {
  LC_ALL: 'C',
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Field 22 of /proc/PID/stat: start time, to tell a pid from a recycled one. */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return procStart(pid) !== undefined && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every process that sees a bind mount from `marker` (a host dir, unique per lab): the host's own
 * namespace and the private mount namespaces libvirt gives each QEMU (qemu.conf `namespaces`).
 */
function namespaceProcesses(marker: string): number[] {
  const out: number[] = [];
  const needle = ` ${marker}/`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/mountinfo`, 'utf8').includes(needle)) continue;
      out.push(pid);
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** SIGKILL every process of each recorded host namespace, then the holders and the switch. Synchronous: runs in exit handlers. */
function killLabSync(state: LabState, tmuxSocket: string): void {
  for (let round = 0; round < 50; round++) {
    let left = 0;
    for (const h of state.hosts) {
      for (const pid of namespaceProcesses(h.dir)) {
        left++;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (alive(h.pid)) {
        left++;
        try {
          process.kill(h.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (state.switchPid && alive(state.switchPid)) {
      left++;
      try {
        process.kill(state.switchPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (left === 0) break;
    sleepSync(100);
  }
  const tmuxPid = readPid(`${tmuxSocket}.pid`);
  if (tmuxPid && alive(tmuxPid)) {
    try {
      process.kill(tmuxPid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Removes what crashed earlier runs left: labs whose owning process is gone. */
export function reapStaleLabs(): string[] {
  const reaped: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/tmp').filter((e) => e.startsWith('vcl-lab-'));
  } catch {
    return reaped;
  }
  for (const e of entries) {
    const dir = join('/tmp', e);
    let state: LabState;
    try {
      state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState;
    } catch {
      continue; // not started by this harness, or being created right now
    }
    if (procStart(state.owner.pid) === state.owner.start) continue; // its owner still runs
    killLabSync(state, join(dir, 'tmux.sock'));
    rmSync(dir, { recursive: true, force: true });
    reaped.push(dir);
  }
  return reaped;
}

const liveLabs = new Set<LabImpl>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.stopSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const lab of liveLabs) lab.stopSync();
      process.kill(process.pid, sig);
    });
  }
}

async function ensureSystemAccounts(): Promise<void> {
  // docs/LAB.md: libvirtd wants user libvirt-qemu and group kvm even when qemu.conf says root.
  for (const g of ['kvm', 'libvirt-qemu', 'libvirt']) {
    if ((await execa('getent', ['group', g], { reject: false })).exitCode !== 0) {
      await execa('groupadd', ['-r', g], { reject: false });
    }
  }
  if ((await execa('getent', ['passwd', 'libvirt-qemu'], { reject: false })).exitCode !== 0) {
    await execa(
      'useradd',
      ['-r', '-g', 'kvm', '-d', '/var/lib/libvirt', '-s', '/usr/sbin/nologin', 'libvirt-qemu'],
      {
        reject: false,
      },
    );
  }
}

async function waitFor(what: string, timeoutMs: number, fn: () => Promise<boolean> | boolean): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`lab: timed out after ${timeoutMs} ms waiting for ${what}`);
}

class HostImpl implements LabHost {
  readonly uri: string;
  readonly paths: LabHost['paths'];
  ns = '';
  pid = 0;
  address?: string;
  readonly hostUuid = randomUUID();

  constructor(
    readonly lab: LabImpl,
    readonly name: string,
    readonly index: number,
    readonly dir: string,
  ) {
    const p = (n: string) => join(dir, n);
    this.paths = {
      run: p('run'),
      etcLibvirt: p('etc-libvirt'),
      varLibLibvirt: p('var-lib-libvirt'),
      varLogLibvirt: p('var-log-libvirt'),
      etcVcl: p('etc-virt-consolelog'),
      varLibVcl: p('var-lib-virt-consolelog'),
      nova: lab.opts.sharedNova ? join(lab.dir, 'shared-nova') : p('var-lib-nova'),
    };
    this.uri = `qemu+unix:///system?socket=${this.paths.run}/libvirt/libvirt-sock`;
  }

  outside(insidePath: string): string {
    const norm = posix.normalize(insidePath);
    for (const [inside, folder] of PRIVATE_MOUNTS) {
      if (norm === inside || norm.startsWith(inside + '/')) {
        const base = inside === '/var/lib/nova' ? this.paths.nova : join(this.dir, folder);
        return base + norm.slice(inside.length);
      }
    }
    return norm; // shared with the machine (e.g. /tmp)
  }

  private nsenterArgs(): string[] {
    const a = ['-t', String(this.pid), '-m', '-u'];
    if (this.lab.opts.network) a.push('-n');
    return [...a, '--wd=/', '--'];
  }

  exec(argv: string[], opts: ExecaOptions = {}): RunPromise {
    // The options are the caller's (env, input, ...); reject stays false whatever they say.
    return execa('nsenter', [...this.nsenterArgs(), ...argv], {
      ...opts,
      reject: false,
    }) as unknown as RunPromise;
  }

  virshResult(...args: string[]): Promise<RunResult> {
    return execa('virsh', ['-q', '-c', this.uri, ...args], { reject: false });
  }

  async virsh(...args: string[]): Promise<string> {
    const r = await this.virshResult(...args);
    if (r.exitCode !== 0) {
      throw new Error(
        `virsh ${args.join(' ')} on ${this.name} failed (${r.exitCode}): ${r.stderr || r.stdout}`,
      );
    }
    return r.stdout;
  }

  cli(...args: string[]): Promise<RunResult> {
    return this.exec([process.execPath, CLI_JS, ...args]);
  }

  writeConfig(text: string): void {
    writeFileSync(join(this.paths.etcVcl, 'virt-consolelog.conf'), text);
  }

  private hookPath(): string {
    return join(this.paths.etcLibvirt, 'hooks', 'qemu.d', HOOK_NAME);
  }

  hookInstalled(): boolean {
    return existsSync(this.hookPath());
  }

  copyHook(): void {
    if (!existsSync(HOOK_LAUNCHER)) throw new Error(`lab: ${HOOK_LAUNCHER} missing: run npm run build first`);
    mkdirSync(dirname(this.hookPath()), { recursive: true });
    copyFileSync(HOOK_LAUNCHER, this.hookPath());
    chmodSync(this.hookPath(), 0o755);
  }

  async installHook(script?: string): Promise<void> {
    if (script === undefined) this.copyHook();
    else {
      mkdirSync(dirname(this.hookPath()), { recursive: true });
      writeFileSync(this.hookPath(), script, { mode: 0o755 });
    }
    await this.reloadLibvirtd(); // the first qemu hook is only seen after a reload (docs/LIBVIRT-FACTS.md)
  }

  async removeHook(): Promise<void> {
    rmSync(this.hookPath(), { force: true });
    await this.reloadLibvirtd();
  }

  libvirtdPid(): number | undefined {
    return readPid(join(this.paths.run, 'libvirtd.pid'));
  }

  virtlogdPid(): number | undefined {
    return readPid(join(this.paths.run, 'virtlogd.pid'));
  }

  libvirtdLog(): string {
    return readTextOr(join(this.paths.varLogLibvirt, 'libvirtd.log'));
  }

  virtlogdLog(): string {
    return readTextOr(join(this.paths.varLogLibvirt, 'virtlogd.log'));
  }

  private timeoutMs(): number {
    return patient((this.lab.opts.startTimeoutS ?? 30) * 1000);
  }

  async startVirtlogd(): Promise<void> {
    const r = await this.exec(['virtlogd', '-d'], { env: DAEMON_ENV, extendEnv: false });
    if (r.exitCode !== 0) throw new Error(`lab ${this.name}: virtlogd failed: ${r.stderr}`);
    await waitFor(`virtlogd on ${this.name}`, this.timeoutMs(), () =>
      existsSync(join(this.paths.run, 'libvirt', 'virtlogd-sock')),
    );
  }

  async startLibvirtd(): Promise<void> {
    const r = await this.exec(['libvirtd', '-d'], { env: DAEMON_ENV, extendEnv: false });
    if (r.exitCode !== 0) throw new Error(`lab ${this.name}: libvirtd failed: ${r.stderr}`);
    await this.waitLibvirtd();
  }

  async waitLibvirtd(): Promise<void> {
    await waitFor(
      `libvirtd on ${this.name}`,
      this.timeoutMs(),
      async () => (await this.virshResult('uri')).exitCode === 0,
    );
  }

  private async stopPid(pid: number | undefined, what: string): Promise<void> {
    if (!pid || !alive(pid)) return;
    process.kill(pid, 'SIGTERM');
    await waitFor(`${what} on ${this.name} to exit`, this.timeoutMs(), () => !alive(pid));
  }

  async restartLibvirtd(): Promise<void> {
    await this.stopPid(this.libvirtdPid(), 'libvirtd');
    await this.startLibvirtd();
  }

  async reloadLibvirtd(): Promise<void> {
    const pid = this.libvirtdPid();
    if (!pid || !alive(pid)) return; // not started yet: it discovers the hook at start
    process.kill(pid, 'SIGHUP');
    await sleep(300);
    await this.waitLibvirtd();
  }

  async restartVirtlogd(): Promise<void> {
    await this.stopPid(this.virtlogdPid(), 'virtlogd');
    rmSync(join(this.paths.run, 'libvirt', 'virtlogd-sock'), { force: true });
    await this.startVirtlogd();
  }

  async reexecVirtlogd(): Promise<void> {
    const pid = this.virtlogdPid();
    if (!pid || !alive(pid)) throw new Error(`lab ${this.name}: virtlogd is not running`);
    process.kill(pid, 'SIGUSR1');
    // After re-exec the admin socket answers again.
    await sleep(200);
    await waitFor(
      `virtlogd re-exec on ${this.name}`,
      this.timeoutMs(),
      async () => (await this.exec(['virt-admin', '-c', 'virtlogd:///system', 'version'])).exitCode === 0,
    );
  }

  /** Creates dirs, config files; starts the namespace holder and the daemons. */
  async start(): Promise<void> {
    for (const [, folder] of PRIVATE_MOUNTS) mkdirSync(join(this.dir, folder), { recursive: true });
    mkdirSync(this.paths.nova, { recursive: true });
    // A pristine /etc/libvirt (the package's files, never modified) plus our own daemon configs.
    cpSync('/etc/libvirt', this.paths.etcLibvirt, { recursive: true });
    for (const f of ['hooks']) rmSync(join(this.paths.etcLibvirt, f), { recursive: true, force: true });
    writeFileSync(
      join(this.paths.etcLibvirt, 'qemu.conf'),
      [
        'user = "root"',
        'group = "root"',
        'dynamic_ownership = 0',
        'security_driver = "none"',
        'cgroup_controllers = [ ]',
        'stdio_handler = "logd"',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(this.paths.etcLibvirt, 'libvirtd.conf'),
      `host_uuid = "${this.hostUuid}"\nlog_outputs = "3:file:/var/log/libvirt/libvirtd.log"\n`,
    );
    const v = this.lab.opts.virtlogd ?? {};
    writeFileSync(
      join(this.paths.etcLibvirt, 'virtlogd.conf'),
      [
        'log_outputs = "3:file:/var/log/libvirt/virtlogd.log"',
        v.maxSize !== undefined ? `max_size = ${v.maxSize}` : '',
        v.maxBackups !== undefined ? `max_backups = ${v.maxBackups}` : '',
        '',
      ].join('\n'),
    );
    const cfg = this.lab.opts.config;
    if (cfg !== undefined) this.writeConfig(typeof cfg === 'function' ? cfg(this.name, this.lab) : cfg);
    if (this.lab.opts.hook ?? true) this.copyHook();

    const flags = ['-m', '-u', '--propagation', 'private'];
    if (this.lab.opts.network) flags.push('-n');
    const holder = execa('unshare', [...flags, 'sleep', 'infinity'], {
      detached: true,
      stdio: 'ignore',
      reject: false,
    });
    holder.unref();
    if (!holder.pid) throw new Error(`lab ${this.name}: unshare did not start`);
    this.pid = holder.pid;
    const myNs = readlinkSync('/proc/self/ns/mnt');
    await waitFor(`namespace of ${this.name}`, 5000, () => {
      try {
        return (
          readlinkSync(`/proc/${this.pid}/ns/mnt`) !== myNs &&
          readFileSync(`/proc/${this.pid}/comm`, 'utf8').trim() === 'sleep'
        );
      } catch {
        return false;
      }
    });
    this.ns = readlinkSync(`/proc/${this.pid}/ns/mnt`);
    writeFileSync(join(this.dir, 'holder.pid'), `${this.pid}\n`);
    this.lab.saveState();

    const must = async (argv: string[]) => {
      const r = await this.exec(argv);
      if (r.exitCode !== 0) throw new Error(`lab ${this.name}: ${argv.join(' ')}: ${r.stderr}`);
    };
    await must(['hostname', this.name]);
    for (const [inside] of PRIVATE_MOUNTS) {
      mkdirSync(inside, { recursive: true }); // mount point on the real root (empty; see header)
      await must(['mount', '--bind', this.outside(inside), inside]);
    }
    mkdirSync(CAPS_CACHE, { recursive: true });
    mkdirSync('/var/cache/libvirt', { recursive: true });
    await must(['mount', '--bind', CAPS_CACHE, '/var/cache/libvirt']);
    if (this.lab.opts.network) await this.setupNetwork();
    for (const d of [
      '/run/libvirt',
      '/run/lock',
      '/var/lib/libvirt/qemu',
      '/var/log/libvirt/qemu',
      '/var/lib/nova/instances',
    ]) {
      await must(['mkdir', '-p', d]);
    }
    await this.startVirtlogd();
    await this.startLibvirtd();
  }

  private async setupNetwork(): Promise<void> {
    const sw = this.lab.switchPid;
    if (!sw) throw new Error('lab: no switch namespace');
    const tag = `vcl${process.pid % 100000}${this.index}`;
    const run = async (argv: string[]) => {
      const r = await execa(argv[0]!, argv.slice(1), { reject: false });
      if (r.exitCode !== 0) throw new Error(`lab ${this.name}: ${argv.join(' ')}: ${r.stderr}`);
    };
    await run(['ip', 'link', 'add', `${tag}h`, 'type', 'veth', 'peer', 'name', `${tag}s`]);
    await run(['ip', 'link', 'set', `${tag}h`, 'netns', String(this.pid)]);
    await run(['ip', 'link', 'set', `${tag}s`, 'netns', String(sw)]);
    const inSwitch = (argv: string[]) => run(['nsenter', '-t', String(sw), '-n', '--', ...argv]);
    await inSwitch(['ip', 'link', 'set', `${tag}s`, 'master', 'br0']);
    await inSwitch(['ip', 'link', 'set', `${tag}s`, 'up']);
    this.address = `10.77.0.${this.index + 1}`;
    const inHost = async (argv: string[]) => {
      const r = await this.exec(argv);
      if (r.exitCode !== 0) throw new Error(`lab ${this.name}: ${argv.join(' ')}: ${r.stderr}`);
    };
    await inHost(['ip', 'link', 'set', 'lo', 'up']);
    await inHost(['ip', 'link', 'set', `${tag}h`, 'name', 'eth0']);
    await inHost(['ip', 'addr', 'add', `${this.address}/24`, 'dev', 'eth0']);
    await inHost(['ip', 'link', 'set', 'eth0', 'up']);
    // Every lab host by name: a private /etc/hosts (file bind mount).
    const hostsFile = join(this.dir, 'etc-hosts');
    const names = this.lab.hostNames.map((n, i) => `10.77.0.${i + 1} ${n}`).join('\n');
    writeFileSync(hostsFile, `127.0.0.1 localhost\n${names}\n`);
    await inHost(['mount', '--bind', hostsFile, '/etc/hosts']);
  }
}

function readTextOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

class LabImpl implements Lab {
  readonly dir: string;
  readonly imagesDir: string;
  readonly socketsDir: string;
  readonly tmuxSocket: string;
  readonly peerExec: string;
  readonly hosts: HostImpl[] = [];
  readonly hostNames: string[];
  switchPid?: number;
  private stopped = false;

  constructor(readonly opts: LabOptions) {
    this.dir = mkdtempSync('/tmp/vcl-lab-');
    chmodSync(this.dir, 0o755);
    this.imagesDir = join(this.dir, 'images');
    this.socketsDir = join(this.dir, 'sockets');
    this.tmuxSocket = join(this.dir, 'tmux.sock');
    mkdirSync(this.imagesDir);
    mkdirSync(this.socketsDir);
    this.peerExec = join(this.dir, 'peer-exec');
    // A transport for virt-consolelog between lab hosts (transport "command"): no ssh, no network.
    writeFileSync(
      this.peerExec,
      [
        '#!/bin/sh',
        '# peer-exec HOST ARGS...: runs the virt-consolelog CLI inside lab host HOST.',
        'host="$1"; shift',
        'case "$host" in ""|*/*|.*) echo "peer-exec: bad host name" >&2; exit 2 ;; esac',
        `pid=$(cat "${this.dir}/hosts/$host/holder.pid" 2>/dev/null) || { echo "peer-exec: no lab host $host" >&2; exit 255; }`,
        `exec nsenter -t "$pid" -m -u${opts.network ? ' -n' : ''} --wd=/ -- "${process.execPath}" "${CLI_JS}" "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const h = opts.hosts ?? 2;
    this.hostNames =
      typeof h === 'number' ? Array.from({ length: h }, (_, i) => `lab-${String.fromCharCode(97 + i)}`) : h;
    this.hostNames.forEach((n, i) => this.hosts.push(new HostImpl(this, n, i, join(this.dir, 'hosts', n))));
  }

  host(name: string): LabHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`lab: no host ${name} (have ${this.hostNames.join(', ')})`);
    return h;
  }

  state(): LabState {
    return {
      owner: { pid: process.pid, start: procStart(process.pid) ?? '' },
      hosts: this.hosts.filter((h) => h.pid).map((h) => ({ name: h.name, pid: h.pid, ns: h.ns, dir: h.dir })),
      ...(this.switchPid ? { switchPid: this.switchPid } : {}),
    };
  }

  saveState(): void {
    const tmp = join(this.dir, 'lab.json.tmp');
    writeFileSync(tmp, JSON.stringify(this.state(), null, 2));
    cpSync(tmp, join(this.dir, 'lab.json'));
    unlinkSync(tmp);
  }

  async startSwitch(): Promise<void> {
    const sw = execa('unshare', ['-n', 'sleep', 'infinity'], {
      detached: true,
      stdio: 'ignore',
      reject: false,
    });
    sw.unref();
    if (!sw.pid) throw new Error('lab: switch namespace did not start');
    this.switchPid = sw.pid;
    this.saveState();
    const myNet = readlinkSync('/proc/self/ns/net');
    await waitFor('switch namespace', 5000, () => {
      try {
        return readlinkSync(`/proc/${sw.pid}/ns/net`) !== myNet;
      } catch {
        return false;
      }
    });
    for (const argv of [
      ['ip', 'link', 'add', 'br0', 'type', 'bridge'],
      ['ip', 'link', 'set', 'br0', 'up'],
    ]) {
      const r = await execa('nsenter', ['-t', String(sw.pid), '-n', '--', ...argv], { reject: false });
      if (r.exitCode !== 0) throw new Error(`lab switch: ${argv.join(' ')}: ${r.stderr}`);
    }
  }

  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    liveLabs.delete(this);
    killLabSync(this.state(), this.tmuxSocket);
    if (process.env.VCL_LAB_KEEP === '1') {
      rmSync(join(this.dir, 'lab.json'), { force: true });
      return;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    await execa('tmux', ['-S', this.tmuxSocket, 'kill-server'], { reject: false });
    this.stopSync();
  }
}

export interface LazyLab {
  /** Starts the lab on the first call (later calls share it; a failed start is retried). */
  get(): Promise<Lab>;
  /** Stops it if it was started. */
  stop(): Promise<void>;
}

export function lazyLab(opts: LabOptions = {}): LazyLab {
  let pending: Promise<Lab> | undefined;
  return {
    get() {
      pending ??= startLab(opts).catch((e: unknown) => {
        pending = undefined;
        throw e;
      });
      return pending;
    },
    async stop() {
      const p = pending;
      pending = undefined;
      if (p) await (await p.catch(() => undefined))?.stop();
    },
  };
}

/** virt-consolelog.conf lines that let lab hosts fetch history from each other through lab.peerExec. */
export function labTransportConfig(lab: Lab): string {
  return `transport = "command"\ntransport_command = [ "${lab.peerExec}", "{host}", "serve-export" ]\n`;
}

/** Starts a lab; on failure everything already started is torn down before the error is thrown. */
export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  if (process.getuid?.() !== 0) throw new Error('lab: needs root (mount namespaces, libvirtd)');
  reapStaleLabs();
  installExitHandlers();
  await ensureSystemAccounts();
  const lab = new LabImpl(opts);
  liveLabs.add(lab);
  try {
    lab.saveState();
    if (opts.network) await lab.startSwitch();
    for (const h of lab.hosts) await h.start();
    lab.saveState();
  } catch (e) {
    await lab.stop();
    throw e;
  }
  return lab;
}

/** True when /dev/kvm can be opened (then guests may use type='kvm'; tests default to TCG per docs/LAB.md). */
export function kvmUsable(): boolean {
  try {
    closeSync(openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
}
