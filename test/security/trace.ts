// Reads `strace -f -y -e trace=%file` output and checks every path the hook touched against a
// policy: writes only inside the store, state and allowed roots; reads only there, in the config
// folder and in what Node itself needs; never a sentinel.
import path from 'node:path';

export interface Access {
  pid: number;
  syscall: string;
  path: string;
  write: boolean;
  ok: boolean;
  line: string;
}

const WRITE_SYSCALLS = new Set([
  'rename',
  'renameat',
  'renameat2',
  'unlink',
  'unlinkat',
  'mkdir',
  'mkdirat',
  'rmdir',
  'link',
  'linkat',
  'symlink',
  'symlinkat',
  'chmod',
  'fchmodat',
  'fchmodat2',
  'chown',
  'lchown',
  'fchownat',
  'truncate',
  'utime',
  'utimes',
  'utimensat',
  'futimesat',
  'mknod',
  'mknodat',
  'setxattr',
  'lsetxattr',
  'removexattr',
  'lremovexattr',
  'creat',
]);

/** Undoes strace's C-style string escapes (\n, \t, \", \\, \xNN, octal). */
function unescape(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c !== '\\') {
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
      continue;
    }
    const n = s[++i] ?? '';
    if (n === 'x') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(s.slice(i)) as RegExpExecArray;
      bytes.push(parseInt(m[0], 8));
      i += m[0].length - 1;
    } else bytes.push(({ n: 10, t: 9, r: 13, v: 11, f: 12 } as Record<string, number>)[n] ?? n.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Joins the halves strace prints when threads interleave ("open(... <unfinished ...>", later
 * "<... open resumed>) = 18</path>") into one line at the return, so that the fd it returned is known.
 */
export function stitchTrace(lines: readonly string[]): string[] {
  const pending = new Map<string, string>();
  const out: string[] = [];
  for (const line of lines) {
    const unfinished = /^(\d+)\s+(.*?)\s*<unfinished \.\.\.>$/.exec(line);
    if (unfinished) {
      pending.set(unfinished[1] as string, `${unfinished[1]}  ${unfinished[2]}`);
      continue;
    }
    const resumed = /^(\d+)\s+<\.\.\. [a-z0-9_]+ resumed>\s*(.*)$/.exec(line);
    const head = resumed ? pending.get(resumed[1] as string) : undefined;
    if (resumed && head !== undefined) {
      pending.delete(resumed[1] as string);
      out.push(`${head}${/^[),]/.test(resumed[2] as string) ? '' : ' '}${resumed[2]}`);
    } else out.push(line);
  }
  // A call still open when the trace ended (the process was killed in it): its arguments still count.
  return out.concat([...pending.values()]);
}

/** The syscalls that make a thread or process: the sandbox traces them beside %file. */
export const CLONE_SYSCALLS = ['clone', '?clone3', '?fork', '?vfork'];

/**
 * fd -> path per fd table, from the opens seen: threads share their process's table, a forked
 * child starts with a copy, so one process's fd number never names another's file.
 */
class FdTables {
  private readonly tableOf = new Map<string, Map<string, string>>();
  /** Any table's newest entry: only for a thread whose own table lacks the fd (a clone not seen). */
  private readonly latest = new Map<string, string>();

  private table(tid: string): Map<string, string> {
    let t = this.tableOf.get(tid);
    if (!t) this.tableOf.set(tid, (t = new Map()));
    return t;
  }

  opened(tid: string, fd: string, p: string): void {
    this.table(tid).set(fd, p);
    this.latest.set(fd, p);
  }

  lookup(tid: string, fd: string): string | undefined {
    return this.table(tid).get(fd) ?? this.latest.get(fd);
  }

  /** `child` made by `parent`; with CLONE_FILES it shares the parent's table. */
  cloned(parent: string, child: string, sharesFiles: boolean): void {
    const from = this.table(parent);
    // Lines the child printed before the parent's clone returned are its own, newer entries.
    const early = this.tableOf.get(child) ?? new Map<string, string>();
    const table = sharesFiles ? from : new Map(from);
    for (const [fd, p] of early) table.set(fd, p);
    this.tableOf.set(child, table);
  }
}

/** Every path argument of every traced syscall, resolved against its dirfd or the cwd. */
export function parseTrace(traced: readonly string[]): Access[] {
  const lines = stitchTrace(traced);
  const out: Access[] = [];
  // The store names files as /proc/self/fd/N/name (openat emulation): N is looked up in the
  // table of the thread that used it.
  const fds = new FdTables();
  for (const line of lines) {
    const m = /^(\d+)\s+([a-z0-9_]+)\((.*)$/.exec(line);
    if (!m) continue; // exit and signal lines carry no path
    const [, pid = '0', syscall = '', rest = ''] = m;
    if (/^(clone3?|v?fork)$/.test(syscall)) {
      const child = /\)\s+=\s+(\d+)\s*$/.exec(rest)?.[1];
      if (child && child !== '0') fds.cloned(pid, child, /\bCLONE_FILES\b/.test(rest));
      continue;
    }
    const viaFd = (p: string) =>
      p.replace(/^\/proc\/(?:self|\d+)\/fd\/(\d+)(?=\/|$)/, (s, fd: string) => fds.lookup(pid, fd) ?? s);
    const ok = !/\)\s+=\s+-1\s/.test(rest);
    let write = WRITE_SYSCALLS.has(syscall);
    if (
      (syscall === 'open' || syscall === 'openat' || syscall === 'openat2') &&
      /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/.test(rest)
    )
      write = true;
    const re = /(?:(?:AT_FDCWD|\d+)<((?:[^>\\]|\\.)*)>,\s*)?"((?:[^"\\]|\\.)*)"/g;
    for (const a of rest.matchAll(re)) {
      const dir = a[1] !== undefined ? unescape(a[1]) : undefined;
      const raw = unescape(a[2] ?? '');
      if (raw === '' && dir !== undefined) {
        out.push({ pid: Number(pid), syscall, path: dir, write, ok, line });
        continue;
      }
      if (raw === '') continue;
      // execve's argv strings are not paths: only the first quoted string of execve is.
      if (syscall === 'execve' && out.length && out[out.length - 1]?.line === line) break;
      const p = viaFd(
        raw.startsWith('/') ? path.posix.normalize(raw) : dir ? path.posix.join(dir, raw) : raw,
      );
      out.push({ pid: Number(pid), syscall, path: p, write, ok, line });
      // readlink, getcwd and the like return a string that is not an argument.
      if (syscall === 'readlink' || syscall === 'readlinkat' || syscall === 'getcwd') break;
    }
    // The file an open really reached (after symlinks), from strace -y's "= 3</real/path>".
    const opened = /\)\s+=\s+(\d+)<((?:[^>\\]|\\.)*)>\s*$/.exec(rest);
    if (opened?.[1] && opened[2]) {
      const real = unescape(opened[2]);
      fds.opened(pid, opened[1], real);
      out.push({ pid: Number(pid), syscall: `${syscall}(resolved)`, path: real, write, ok, line });
    }
  }
  return out;
}

export interface Policy {
  /** Folders where writes (and reads) are allowed. */
  writable: string[];
  /** Further folders or files where reads are allowed. */
  readable: string[];
  /** Paths that must never be touched, not even by stat (sentinels). */
  forbidden: string[];
}

const inside = (root: string, p: string) => {
  const r = root.replace(/\/+$/, '');
  return p === r || p.startsWith(r + '/');
};

/** What Node, the dynamic loader and the sh launcher read on any run. */
export const SYSTEM_READABLE = [
  // virtlogd's rotation settings (max_size, max_backups): the store reads them to name backups.
  '/etc/libvirt/virtlogd.conf',
  '/etc/ld.so.cache',
  '/etc/ld.so.preload',
  '/etc/ssl/openssl.cnf',
  '/etc/localtime',
  '/etc/default/virt-consolelog',
  '/etc/passwd',
  '/etc/group',
  '/etc/nsswitch.conf',
  '/etc/hosts',
  '/etc/host.conf',
  '/etc/resolv.conf',
  '/etc/gai.conf',
  '/etc/locale.alias',
  '/usr',
  '/lib',
  '/lib64',
  '/bin',
  '/sbin',
  '/proc/self/cgroup',
  '/proc/self/maps',
  '/proc/self/exe',
  '/proc/self/fd',
  '/proc/meminfo',
  '/proc/sys/vm/overcommit_memory',
  '/proc/self/stat',
  '/proc/stat',
  '/proc/cpuinfo',
  '/sys/fs/cgroup',
  '/sys/devices/system/cpu',
  '/dev/null',
  '/dev/urandom',
  '/dev/random',
  '/dev/pts',
  '/dev/tty',
];

/** Binaries the hook may run to learn host facts (their --version). */
export const PROBE_RE = /^\/usr\/s?bin\/(libvirtd|virtqemud|qemu-system-[a-z0-9_]+|qemu-kvm|kvm|virsh)$/;

/**
 * Tools the sh launcher runs on paths of its own (the snapshot folder, the Node binary, hook-snapshot.cjs;
 * none from XML): `stat` for their identity, `mkdir`/`rmdir` for the build lock, `find` for a stale one,
 * and the background build's `nice`, `mv`, `rm`. What their libraries read at start (SELinux probes,
 * /proc/filesystems, their stdout pipe) is theirs, not the hook's; their writes still count.
 */
export const LAUNCHER_TOOL_RE = /^(\/usr)?\/bin\/(stat|find|mkdir|rmdir|rm|mv|nice)$/;

/** Accesses that break the policy (empty = clean). Failed stats of a missing path still count for sentinels. */
export function violations(accesses: readonly Access[], policy: Policy): Access[] {
  // Version probes (libvirtd/QEMU --version, for host facts) and the launcher's tools read what they read:
  // only their writes count.
  const probes = new Set(
    accesses
      .filter(
        (a) => a.syscall === 'execve' && a.ok && (PROBE_RE.test(a.path) || LAUNCHER_TOOL_RE.test(a.path)),
      )
      .map((a) => a.pid),
  );
  return accesses.filter((a) => {
    if (a.syscall === 'getcwd') return false;
    // A detached job's set-up (src/util/jobs.ts): fds 0/1/2 on /dev/null, working folder "/".
    if (a.path === '/dev/null' || (a.syscall === 'chdir' && a.path === '/')) return false;
    // A QEMU probe opens device nodes such as /dev/sgx_vepc at start-up; nothing else it writes is allowed.
    if (
      probes.has(a.pid) &&
      (!a.write || inside('/dev', a.path)) &&
      !policy.forbidden.some((f) => inside(f, a.path))
    )
      return false;
    if (policy.forbidden.some((f) => inside(f, a.path))) return true;
    if (!a.path.startsWith('/')) return !a.ok ? false : true;
    if (policy.writable.some((w) => inside(w, a.path))) return false;
    if (a.write) return true;
    // realpath() stats every ancestor of a file it may read: allowed, opening one is not.
    if (
      /stat|access|readlink/.test(a.syscall) &&
      policy.readable.concat(policy.writable).some((r) => inside(a.path, r))
    )
      return false;
    // /proc/<pid>/... of the hook itself is /proc/self.
    const p = a.path.replace(/^\/proc\/\d+\//, '/proc/self/');
    return !(policy.readable.some((r) => inside(r, p)) || SYSTEM_READABLE.some((r) => inside(r, p)));
  });
}

export function describe(v: readonly Access[]): string {
  return v
    .slice(0, 10)
    .map(
      (a) => `${a.write ? 'WRITE' : 'read'} ${a.syscall} ${JSON.stringify(a.path)}${a.ok ? '' : ' (failed)'}`,
    )
    .join('\n');
}
