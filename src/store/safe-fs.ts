// Symlink-proof file access (openat-style): every path is walked one component at a time through
// directory file descriptors (/proc/self/fd/N/name, with O_NOFOLLOW), so a symlink swapped in
// between check and use is refused instead of followed. The root folder itself is trusted config.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { isInside } from './layout.js';

const C = fs.constants;
let tempSeq = 0;
const PROC_FD = '/proc/self/fd';
/** Whether /proc/self/fd can serve as openat(); without it we fall back to lstat checks on plain paths. */
const HAVE_PROC_FD = (() => {
  try {
    return fs.statSync(PROC_FD).isDirectory();
  } catch {
    return false;
  }
})();

export class UnsafePathError extends Error {
  override name = 'UnsafePathError';
}

function assertName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
    throw new UnsafePathError(`not a single path component: ${JSON.stringify(name)}`);
}

/** An open directory; every operation names one entry of it and never follows a symlink there. */
export class SafeDir {
  private closed = false;
  private constructor(
    readonly fd: number,
    /** Human-readable path, for messages only. */
    readonly path: string,
  ) {}

  /** Opens a trusted root folder (configuration), optionally creating it. */
  static openRoot(path: string, create = false, mode = 0o755): SafeDir {
    if (create) fs.mkdirSync(path, { recursive: true, mode });
    const fd = fs.openSync(path, C.O_RDONLY | C.O_DIRECTORY);
    return new SafeDir(fd, path);
  }

  /** Opens `root/components...`, each component a real directory (never a symlink). */
  static openBeneath(root: string, components: readonly string[], create = false, mode = 0o750): SafeDir {
    let dir = SafeDir.openRoot(root, false);
    try {
      for (const c of components) {
        const next = dir.sub(c, create, mode);
        dir.close();
        dir = next;
      }
      return dir;
    } catch (e) {
      dir.close();
      throw e;
    }
  }

  /** The path through which the kernel resolves `name` relative to this directory. */
  entry(name: string): string {
    assertName(name);
    return HAVE_PROC_FD ? `${PROC_FD}/${this.fd}/${name}` : posix.join(this.path, name);
  }

  display(name: string): string {
    return posix.join(this.path, name);
  }

  sub(name: string, create = false, mode = 0o750): SafeDir {
    const p = this.entry(name);
    if (create) {
      try {
        fs.mkdirSync(p, { mode });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    if (!HAVE_PROC_FD) {
      const st = fs.lstatSync(p);
      if (!st.isDirectory()) throw new UnsafePathError(`${this.display(name)} is not a real directory`);
    }
    let fd: number;
    try {
      fd = fs.openSync(p, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOTDIR')
        throw new UnsafePathError(`${this.display(name)} is a symlink or not a directory: left alone`);
      throw e;
    }
    return new SafeDir(fd, this.display(name));
  }

  /** open(2) of one entry with O_NOFOLLOW added; ELOOP becomes an UnsafePathError. */
  open(name: string, flags: number, mode = 0o640): number {
    try {
      return fs.openSync(this.entry(name), flags | C.O_NOFOLLOW, mode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP')
        throw new UnsafePathError(`${this.display(name)} is a symlink: left alone`);
      throw e;
    }
  }

  /** lstat of one entry; undefined if it does not exist. */
  lstat(name: string): fs.Stats | undefined {
    try {
      return fs.lstatSync(this.entry(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  list(): string[] {
    return fs.readdirSync(HAVE_PROC_FD ? `${PROC_FD}/${this.fd}` : this.path);
  }

  /** Entries and whether each is a regular file, from the listing itself (no stat per entry). */
  listTyped(): readonly { readonly name: string; isFile(): boolean }[] {
    return fs.readdirSync(HAVE_PROC_FD ? `${PROC_FD}/${this.fd}` : this.path, { withFileTypes: true });
  }

  /** Inode, size, mtime and ctime (ns) of one entry, or undefined: an entry replaced or written changes it. */
  stamp(name: string): string | undefined {
    const st = fs.lstatSync(this.entry(name), { bigint: true, throwIfNoEntry: false });
    return st && `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  }

  /** mtime and ctime (ns) of this directory: an entry created, renamed or removed in it changes them. */
  selfStamp(): string {
    const st = fs.fstatSync(this.fd, { bigint: true });
    return `${st.ino}:${st.mtimeNs}:${st.ctimeNs}`;
  }

  rename(from: string, to: string): void {
    fs.renameSync(this.entry(from), this.entry(to));
  }

  /** Removes one entry; true if it existed. */
  unlink(name: string): boolean {
    try {
      fs.unlinkSync(this.entry(name));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  fsync(): void {
    try {
      fs.fsyncSync(this.fd);
    } catch {
      // Some file systems refuse fsync on directories; the rename is still atomic there.
    }
  }

  /** Reads a whole small regular file; undefined if missing. */
  readText(name: string): string | undefined {
    let fd: number;
    try {
      fd = this.open(name, C.O_RDONLY);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      if (!fs.fstatSync(fd).isFile())
        throw new UnsafePathError(`${this.display(name)} is not a regular file`);
      return fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  }

  /** A fresh temp name in this directory (never visible as a segment or state file). */
  tempName(base: string): string {
    // Unique per process (pid, time, counter) and created with O_EXCL: not random, no crypto to load.
    return `.tmp-${base}-${process.pid}-${Date.now().toString(36)}-${++tempSeq}`;
  }

  /** Writes `name` atomically: temp file, fsync, rename, fsync of the directory. */
  writeAtomic(name: string, data: string | Buffer, mode = 0o640): void {
    const tmp = this.tempName(name);
    const fd = this.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL, mode);
    try {
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fs.fsyncSync(fd);
    } catch (e) {
      fs.closeSync(fd);
      this.unlink(tmp);
      throw e;
    }
    fs.closeSync(fd);
    this.rename(tmp, name);
    this.fsync();
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      fs.closeSync(this.fd);
    }
  }
}

/**
 * Where a path from domain XML may be acted on: the allowed root (or the store) containing it and
 * the components below that root. Undefined when the path lies outside all of them.
 */
export function locateAllowed(
  path: string,
  roots: readonly string[],
): { root: string; dirs: string[]; name: string } | undefined {
  if (!path.startsWith('/') || path.includes('\0')) return undefined;
  const p = posix.normalize(path);
  // The longest matching root wins, so the store inside /var/log/libvirt is walked from the store.
  const root = [...roots]
    .map((r) => posix.normalize(r).replace(/\/+$/, '') || '/')
    .filter((r) => isInside(r, p) && r !== p)
    .sort((a, b) => b.length - a.length)[0];
  if (!root) return undefined;
  const rel = p.slice(root === '/' ? 1 : root.length + 1).split('/');
  const name = rel.pop();
  if (!name || rel.some((c) => c === '' || c === '.' || c === '..')) return undefined;
  return { root, dirs: rel, name };
}
