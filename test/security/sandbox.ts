// Runs the compiled hook and CLI the way libvirt runs the hook (env -i LC_ALL=C PATH=..., argv,
// XML on stdin) inside a private mount namespace where /etc, /var/lib and /var/cache are overlays and
// /var/log/libvirt, /var/lib/libvirt are temp folders: real paths are never touched. /etc/shadow
// inside is a sentinel file; strace (optional) records every path the hook touches.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { patient } from '../lab/patience.js';
import { CLONE_SYSCALLS } from './trace.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const HOOK = path.join(repoRoot, 'dist/virt-consolelog-hook');
export const CLI = path.join(repoRoot, 'dist/virt-consolelog.mjs');

/** Paths as the hook sees them inside the namespace. */
export const INSIDE = {
  config: '/etc/virt-consolelog/virt-consolelog.conf',
  configDir: '/etc/virt-consolelog',
  store: '/var/log/libvirt/consolelog',
  liveDir: '/var/log/libvirt/qemu',
  state: '/var/lib/virt-consolelog',
  varLogLibvirt: '/var/log/libvirt',
  varLibLibvirt: '/var/lib/libvirt',
  /** The launcher's start-up snapshot folder, as the package makes it (a fresh one per sandbox). */
  snapshotCache: '/var/cache/virt-consolelog',
  /** Where the launcher hands events to the capture service (none runs here: it only looks). */
  hookServer: '/run/virt-consolelog/hook-server',
  shadow: '/etc/shadow',
} as const;

export const SHADOW_CONTENT = 'root:$6$vcl-sentinel-not-a-real-hash:19000:0:99999:7:::\n';
export const HOOK_ENV = [
  'LC_ALL=C',
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/root',
  'USER=root',
  'LOGNAME=root',
];

// Fixed script, values passed as positional arguments (never interpolated). It sets up the
// namespace once, then waits: every run enters it with nsenter (overlays allow one mount per upper dir).
const ENTER = `set -e
T=$1
mount -t overlay vcl-etc -o "lowerdir=/etc,upperdir=$T/etc-upper,workdir=$T/etc-work" /etc
mount -t overlay vcl-varlib -o "lowerdir=/var/lib,upperdir=$T/varlib-upper,workdir=$T/varlib-work" /var/lib
mount -t overlay vcl-varlog -o "lowerdir=/var/log,upperdir=$T/varlog-upper,workdir=$T/varlog-work" /var/log
mkdir -p /var/log/libvirt /var/lib/libvirt
mount --bind "$T/var-log-libvirt" /var/log/libvirt
mount --bind "$T/var-lib-libvirt" /var/lib/libvirt
mount -t overlay vcl-varcache -o "lowerdir=/var/cache,upperdir=$T/varcache-upper,workdir=$T/varcache-work" /var/cache
rm -rf /var/cache/virt-consolelog
mkdir -m 0700 /var/cache/virt-consolelog
echo ready
exec sleep 86400`;

export interface RunOptions {
  stdin?: string | Buffer;
  /** Kill the whole run (SIGKILL to its process group) after this long; reported as timedOut. */
  timeoutMs?: number;
  /** Send SIGKILL to the hook after this long (kill -9 during work); reported as killed. */
  killAfterMs?: number;
  /** Record every file syscall with strace -f. */
  strace?: boolean;
  /** Extra environment (on top of libvirt's minimal one). */
  env?: string[];
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
  timedOut: boolean;
  killed: boolean;
  /** strace lines (only with strace: true). */
  trace: string[];
}

export class Sandbox {
  readonly root: string;
  private runs = 0;
  private keeper: ChildProcess | undefined;

  private constructor(root: string) {
    this.root = root;
  }

  static async create(opts: { config?: string; prefix?: string } = {}): Promise<Sandbox> {
    if (!existsSync(HOOK) || !existsSync(CLI)) throw new Error(`run "npm run build" first: ${HOOK} missing`);
    const root = mkdtempSync(path.join(tmpdir(), opts.prefix ?? 'vcl-sandbox-'));
    const sb = new Sandbox(root);
    for (const d of [
      'etc-upper/virt-consolelog',
      'etc-work',
      'varlib-upper/virt-consolelog',
      'varlib-work',
      'varlog-upper',
      'varlog-work',
      'varcache-upper',
      'varcache-work',
      'var-log-libvirt/qemu',
      'var-lib-libvirt/qemu',
      'sentinel/sub',
      'tmp',
    ])
      mkdirSync(path.join(root, d), { recursive: true });
    writeFileSync(path.join(root, 'etc-upper/shadow'), SHADOW_CONTENT, { mode: 0o640 });
    writeFileSync(path.join(root, 'sentinel/file.log'), 'sentinel file: must never be read or changed\n');
    writeFileSync(path.join(root, 'sentinel/evil.dtd'), '<!ENTITY leak SYSTEM "file:///etc/shadow">\n');
    writeFileSync(path.join(root, 'sentinel/sub/x.log'), 'sentinel\n');
    sb.writeConfig(opts.config ?? 'host_name = "sandbox"\n');
    await sb.start();
    return sb;
  }

  /** Starts the process that holds the namespace (mounts set up once). */
  private start(): Promise<void> {
    const keeper = spawn(
      'unshare',
      ['-m', '--propagation', 'private', '--', 'sh', '-c', ENTER, 'vcl-sandbox', this.root],
      {
        cwd: '/',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.keeper = keeper;
    return new Promise((resolve, reject) => {
      let err = '';
      keeper.stderr.on('data', (c: Buffer) => (err += c.toString()));
      keeper.stdout.once('data', () => resolve());
      keeper.once('exit', (code) => reject(new Error(`sandbox namespace failed (exit ${code}): ${err}`)));
    });
  }

  /** pid of the process holding the namespace (nsenter --mount=/proc/PID/ns/mnt enters it). */
  get pid(): number {
    if (!this.keeper?.pid) throw new Error('sandbox not running');
    return this.keeper.pid;
  }

  /** Host path of something the hook sees at `inside` (only for the mapped folders). */
  host(inside: string): string {
    const map: [string, string][] = [
      ['/etc/virt-consolelog', 'etc-upper/virt-consolelog'],
      ['/var/lib/virt-consolelog', 'varlib-upper/virt-consolelog'],
      ['/var/log/libvirt', 'var-log-libvirt'],
      ['/var/lib/libvirt', 'var-lib-libvirt'],
      ['/var/cache/virt-consolelog', 'varcache-upper/virt-consolelog'],
      ['/etc/shadow', 'etc-upper/shadow'],
    ];
    for (const [i, h] of map)
      if (inside === i || inside.startsWith(i + '/')) return path.join(this.root, h, inside.slice(i.length));
    throw new Error(`${inside} is not mapped into the sandbox`);
  }

  get sentinelDir(): string {
    return path.join(this.root, 'sentinel');
  }

  writeConfig(text: string): void {
    writeFileSync(this.host(INSIDE.config), text);
  }

  /** Runs argv inside the namespace. */
  exec(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const n = ++this.runs;
    const traceFile = path.join(this.root, `tmp/strace.${n}`);
    const inner = opts.strace
      ? [
          'strace',
          '-f',
          '-qq',
          '-y',
          '-s',
          '4096',
          '-e',
          `trace=${['%file', ...CLONE_SYSCALLS].join(',')}`,
          '-e',
          'signal=none',
          '-o',
          traceFile,
          ...argv,
        ]
      : argv;
    if (!this.keeper?.pid || this.keeper.exitCode !== null) throw new Error('sandbox not running');
    const full = [`--mount=/proc/${this.keeper.pid}/ns/mnt`, '--', ...inner];
    const started = Date.now();
    return new Promise((resolve, reject) => {
      // Own process group, so that a timeout or kill -9 reaches the hook and anything it started.
      // cwd / as libvirtd's (a daemon), so that a relative path from XML resolves where it would in production.
      const child = spawn('nsenter', full, { detached: true, cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      let killed = false;
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.stdin.on('error', () => undefined); // the hook may exit before reading all of stdin
      child.stdin.end(opts.stdin ?? '');
      const killGroup = () => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      const timers: NodeJS.Timeout[] = [];
      // A hang ceiling, not a pace: stretched on a slow or busy machine (test/lab/patience.ts).
      timers.push(
        setTimeout(
          () => {
            timedOut = true;
            killGroup();
          },
          patient(opts.timeoutMs ?? 30_000),
        ),
      );
      if (opts.killAfterMs !== undefined)
        timers.push(
          setTimeout(() => {
            killed = true;
            killGroup();
          }, opts.killAfterMs),
        );
      child.on('error', reject);
      child.on('close', (code, signal) => {
        for (const t of timers) clearTimeout(t);
        let trace: string[] = [];
        if (opts.strace && existsSync(traceFile)) {
          trace = readFileSync(traceFile, 'utf8').split('\n').filter(Boolean);
          rmSync(traceFile, { force: true });
        }
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out),
          stderr: Buffer.concat(err).toString('utf8'),
          ms: Date.now() - started,
          timedOut,
          killed,
          trace,
        });
      });
    });
  }

  /** Runs the hook as libvirt does: HOOK <domain> <op> <subop> <extra>, XML on stdin, env -i. */
  hook(args: [string, string, string, string?], opts: RunOptions = {}): Promise<RunResult> {
    const [domain, op, subop, extra] = args;
    return this.exec(
      ['env', '-i', ...HOOK_ENV, ...(opts.env ?? []), HOOK, domain, op, subop, extra ?? '-'],
      opts,
    );
  }

  /** Runs the CLI inside the namespace (as root, with the sandbox's config). */
  cli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec(['env', '-i', ...HOOK_ENV, ...(opts.env ?? []), process.execPath, CLI, ...args], opts);
  }

  destroy(): void {
    this.keeper?.kill('SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Makes a file the hook must never read: a fresh sentinel with known content. */
export function writeSentinel(file: string, content = 'sentinel\n'): void {
  writeFileSync(file, content);
  chmodSync(file, 0o600);
}

/** Content hash, mode and mtime of every entry under `dir` (and of extra files): compare before/after. */
export function snapshotTree(dir: string, extra: string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (p: string) => {
    const st = lstatSync(p);
    let what = `${st.mode.toString(8)} ${st.mtimeMs} ${st.size}`;
    if (st.isFile()) what += ' ' + createHash('sha256').update(readFileSync(p)).digest('hex');
    else if (st.isSymbolicLink()) what += ' -> ' + readlinkSync(p);
    out.set(p, what);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) visit(path.join(p, e));
  };
  visit(dir);
  for (const f of extra) visit(f);
  return out;
}

/** Files (not folders) under `dir` whose permission bits exceed `mode`. */
export function filesMoreOpenThan(dir: string, mode: number, only?: RegExp): string[] {
  const bad: string[] = [];
  const visit = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(path.join(p, e));
    else if (st.isFile() && (!only || only.test(p)) && (st.mode & 0o777 & ~mode) !== 0)
      bad.push(`${p} ${(st.mode & 0o777).toString(8)}`);
  };
  if (existsSync(dir)) visit(dir);
  return bad;
}
