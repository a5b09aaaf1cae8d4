// The domain lock: proper-lockfile (mkdir-based, works on NFS) at <store>/<uuid>/.lock, with a
// bounded wait. A lock left by a dead process of this host is recovered at once (its owner file
// names a pid that no longer runs); other stale locks after config.lockStaleMs (mtime, NFS-safe).
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
}

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
    if (owner && owner.host === config.hostName && owner.pid !== process.pid && !pidAlive(owner.pid)) {
      // Re-read after a moment: a live process writes its owner file right after mkdir.
      await sleep(50);
      const again = readOwner(ownerPath);
      if (again && again.pid === owner.pid && again.at === owner.at && fs.existsSync(lockDir)) {
        try {
          fs.rmdirSync(lockDir);
          recovered = `removed the lock of dead process ${owner.pid}`;
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
    // 0600 and never through a symlink, like every other file the plugin creates in the store.
    const fd = fs.openSync(
      ownerPath,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW,
      0o600,
    );
    try {
      fs.fchmodSync(fd, 0o600);
      fs.writeSync(fd, JSON.stringify({ host: config.hostName, pid: process.pid, at: Date.now() }));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // The owner file only speeds up recovery; the mtime rule still applies without it.
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
