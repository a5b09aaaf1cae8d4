// The domain lock: proper-lockfile (mkdir-based, works on NFS) at <store>/<uuid>/.lock, with a
// bounded wait. A lock left by a dead process of this host is recovered at once (its owner file
// names a pid that no longer runs); a lock whose creator died before it recorded itself (killed
// between the mkdir and the owner file) after OWNERLESS_MS; other stale locks after
// config.lockStaleMs (mtime, NFS-safe).
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { lock as lockFn } from 'proper-lockfile';
import type { Config } from '../config/schema.js';
import { domainDir, LOCK_NAME } from './layout.js';
import { pidAlive } from '../util/pid.js';

export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';
}

export interface LockInfo {
  /** Milliseconds spent waiting for the lock. */
  waitedMs: number;
  /** Set when a lock of a dead process was removed to get this one. */
  recovered?: string;
}

interface Owner {
  host: string;
  pid: number;
  at: number;
  /** Inode of the lock folder it recorded itself for: an owner file names one lock, not the next. */
  lock?: number;
}

/**
 * A live holder records itself right after its mkdir; a lock folder this much older than any record
 * of itself was made by a process that died in between (it never refreshes, so only this rule, or
 * lock_stale_ms, can free it: until then every hook of the domain fails open, sealing nothing).
 */
export const OWNERLESS_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** proper-lockfile (and graceful-fs, which it patches fs with) loads only when a lock is taken. */
async function lockLibrary(): Promise<typeof lockFn> {
  return (await import('proper-lockfile')).default.lock;
}

function readOwner(path: string): Owner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(path, 'utf8')) as Owner;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why the lock at `lockDir` is a dead one that may be removed, or undefined: its recorded owner is a
 * process of this host that no longer runs, or no record names this lock and it is older than
 * OWNERLESS_MS (its creator died between the mkdir and the owner file).
 */
function deadLock(config: Config, lockDir: string, owner: Owner | undefined): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(lockDir);
  } catch {
    return undefined; // gone: the next attempt takes it
  }
  if (owner && owner.lock === st.ino) {
    if (owner.host === config.hostName && owner.pid !== process.pid && !pidAlive(owner.pid))
      return `removed the lock of dead process ${owner.pid}`;
    return undefined;
  }
  if (Date.now() - st.mtimeMs > OWNERLESS_MS)
    return `removed a lock whose creator never recorded itself (${Math.round((Date.now() - st.mtimeMs) / 1000)} s old)`;
  return undefined;
}

/** Writes the owner file whole (temp + rename): a kill leaves the old record or the new one, never half. */
function writeOwner(ownerPath: string, owner: Owner): void {
  const tmp = `${ownerPath}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  // 0600 and never through a symlink (O_EXCL; rename replaces a link, never writes through it).
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(owner));
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, ownerPath);
}

/**
 * Runs `fn` holding the domain's lock (the domain folder must exist). Waits at most
 * `waitMs` (default config.lockWaitMs), then throws LockTimeoutError: callers in hooks fail open.
 * If the lock is lost while held (another process judged it stale), `signal` is aborted.
 */
export async function withDomainLock<T>(
  config: Config,
  uuid: string,
  fn: (info: LockInfo, signal: AbortSignal) => Promise<T> | T,
  options: { waitMs?: number } = {},
): Promise<T> {
  const dir = domainDir(config.logRoot, uuid);
  const lockDir = posix.join(dir, LOCK_NAME);
  const ownerPath = posix.join(dir, `${LOCK_NAME}.owner`);
  const waitMs = options.waitMs ?? config.lockWaitMs;
  const started = Date.now();
  const controller = new AbortController();
  let recovered: string | undefined;
  let release: (() => Promise<void>) | undefined;
  let delay = 5;
  const lock = await lockLibrary();
  for (;;) {
    try {
      release = await lock(dir, {
        lockfilePath: lockDir,
        realpath: false,
        stale: Math.max(2000, config.lockStaleMs),
        retries: 0,
        onCompromised: () =>
          controller.abort(new Error('domain lock lost (judged stale by another process)')),
      });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
    }
    const owner = readOwner(ownerPath);
    const why = deadLock(config, lockDir, owner);
    if (why) {
      // Look again after a moment: a live process writes its owner file right after mkdir.
      await sleep(50);
      const again = readOwner(ownerPath);
      if (again?.pid === owner?.pid && again?.at === owner?.at && deadLock(config, lockDir, again) === why) {
        try {
          fs.rmdirSync(lockDir);
          recovered = why;
        } catch {
          // Someone else recovered it first; just retry.
        }
        continue;
      }
    }
    const waited = Date.now() - started;
    if (waited >= waitMs)
      throw new LockTimeoutError(
        `domain lock ${lockDir} still held after ${waited} ms (owner: ${JSON.stringify(owner)})`,
      );
    await sleep(Math.min(delay, waitMs - waited));
    delay = Math.min(delay * 2, 200);
  }
  try {
    writeOwner(ownerPath, {
      host: config.hostName,
      pid: process.pid,
      at: Date.now(),
      lock: fs.lstatSync(lockDir).ino,
    });
  } catch {
    // The owner file only speeds up recovery; the mtime rules still apply without it.
  }
  try {
    return await fn(
      { waitedMs: Date.now() - started, ...(recovered ? { recovered } : {}) },
      controller.signal,
    );
  } finally {
    await release().catch(() => undefined);
  }
}
