// Bookkeeping of history fetches, one JSON file per domain in <state_dir>/domains/<uuid>/fetch.json:
// what is owed (from which host, since when), what was tried, what failed. `status` shows it,
// `sync` and the next hook event for the domain retry what is not complete.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { domainFile, domainsDir } from '../state/domain-files.js';
import { isUuid } from '../store/layout.js';

export type FetchStatus =
  /** A fetch job is at work (or died: see `pid`). */
  | 'running'
  /** Everything the peer had sealed is here; its final seal (after the guest left it) is not yet. */
  | 'waiting-for-seal'
  /** The last attempt failed (peer unreachable, transfer error): retried later. */
  | 'failed'
  /** The previous host's part of the history is here in full. */
  | 'complete'
  /** Nothing to fetch: shared store, or no host known that could hold earlier history. */
  | 'nothing';

export interface FetchRecord {
  uuid: string;
  /** Domain name at the time (for messages only). */
  domain?: string;
  /** The host the guest left (metadata hint); undefined when only the peer list was known. */
  previousHost?: string;
  /** The generation the guest ran at on the previous host (our generation - 1). */
  previousGeneration?: number;
  /** Hosts to ask, in order: the hint first, then the configured peers. */
  candidates: string[];
  /** When the migration (or the first request) began, ISO. */
  since: string;
  /**
   * Keys of the previous host's segments of previousGeneration seen in the first listing taken
   * while the guest was still leaving it; a key beyond these is its seal after the guest left.
   */
  baseline?: string[];
  status: FetchStatus;
  attempts: number;
  lastAttempt?: string;
  lastError?: string;
  /** Host that answered last. */
  source?: string;
  segmentsFetched: number;
  bytesFetched: number;
  /** pid of the job working on it (status 'running'). */
  pid?: number;
  updated: string;
  /** Why `prepare begin` took this start for an arrival (src/transfer/decide-arrival.ts). */
  arrival?: string;
  /** Peers that answered "not mine" (an empty listing) during this arrival: not asked again. */
  notMine?: string[];
  /**
   * The store's next seal number when the arrival was recorded: this host's own segments from it on
   * were sealed since, and are placed after the history the fetch brings (decide-order.ts).
   */
  sealsFrom?: number;
}

/** A new fetch record, owed from now: running, nothing fetched yet. */
export function newFetchRecord(o: {
  uuid: string;
  domain?: string;
  previousHost?: string;
  previousGeneration?: number;
  candidates: string[];
  now: Date;
  arrival?: string;
  sealsFrom?: number;
}): FetchRecord {
  const at = o.now.toISOString();
  return {
    uuid: o.uuid,
    ...(o.domain !== undefined ? { domain: o.domain } : {}),
    ...(o.previousHost ? { previousHost: o.previousHost } : {}),
    ...(o.previousGeneration !== undefined ? { previousGeneration: o.previousGeneration } : {}),
    candidates: o.candidates,
    since: at,
    status: 'running',
    attempts: 0,
    segmentsFetched: 0,
    bytesFetched: 0,
    updated: at,
    ...(o.arrival !== undefined ? { arrival: o.arrival } : {}),
    ...(o.sealsFrom !== undefined ? { sealsFrom: o.sealsFrom } : {}),
  };
}

/** A fetch record whose history is still owed: running, waiting for the final seal, or failed (retried). */
export function fetchOwed(record: FetchRecord | undefined): record is FetchRecord {
  return !!record && record.status !== 'complete' && record.status !== 'nothing';
}

export function recordPath(stateDir: string, uuid: string): string {
  return domainFile(stateDir, uuid, 'fetchRecord');
}

/** Folder holding partial downloads of one domain (`<key>.<sha256 prefix>.part`). */
export function partialDir(stateDir: string, uuid: string): string {
  return domainFile(stateDir, uuid, 'partialDownloads');
}

function isRecord(v: unknown): v is FetchRecord {
  const r = v as FetchRecord;
  return typeof v === 'object' && v !== null && typeof r.uuid === 'string' && typeof r.status === 'string';
}

/** The record of one domain; undefined when none or unreadable (a corrupt record is reported by `status`). */
export function readFetchRecord(stateDir: string, uuid: string): FetchRecord | undefined {
  try {
    const v: unknown = JSON.parse(fs.readFileSync(recordPath(stateDir, uuid), 'utf8'));
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Every domain with a record (for `sync --all` and `status`). */
export function listFetchRecords(stateDir: string): FetchRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(domainsDir(stateDir));
  } catch {
    return [];
  }
  const out: FetchRecord[] = [];
  for (const n of names.sort()) {
    if (!isUuid(n)) continue;
    const r = readFetchRecord(stateDir, n);
    if (r) out.push(r);
  }
  return out;
}

/** Writes a record atomically (temp + rename): a reader never sees half of one. */
export function writeFetchRecord(stateDir: string, record: FetchRecord): void {
  const path = recordPath(stateDir, record.uuid);
  fs.mkdirSync(posix.dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify({ ...record, updated: new Date().toISOString() }, null, 2) + '\n', {
    mode: 0o600,
  });
  fs.renameSync(tmp, path);
}

export class FetchBusyError extends Error {
  override name = 'FetchBusyError';
}

/**
 * Runs `fn` while holding the domain's fetch lock, so that one job at a time fetches a domain's
 * history (the hook's job, a retry, `sync`). Does not wait: a busy lock throws FetchBusyError.
 */
export async function withFetchLock<T>(stateDir: string, uuid: string, fn: () => Promise<T>): Promise<T> {
  const path = recordPath(stateDir, uuid);
  fs.mkdirSync(posix.dirname(path), { recursive: true, mode: 0o700 });
  // Loaded here, not at the top: hooks read and write records but never take this lock.
  const { default: lockfile } = await import('proper-lockfile');
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(path, { realpath: false, stale: 30_000, retries: 0 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED')
      throw new FetchBusyError(`another fetch of domain ${uuid} is running`);
    throw e;
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}

/** A record's one-line summary, for `status` and `sync`. */
export function describeFetch(r: FetchRecord): string {
  const asked = r.candidates.filter((h) => !r.notMine?.includes(h));
  const from = r.source ?? r.previousHost ?? (asked.join(',') || 'no known host');
  const parts = [`history fetch from ${from}: ${r.status}`];
  if (fetchOwed(r)) parts.push(`owed since ${r.since}`);
  if (r.notMine?.length) parts.push(`${r.notMine.length} peer(s) answered not mine`);
  if (r.segmentsFetched) parts.push(`${r.segmentsFetched} segments, ${r.bytesFetched} bytes`);
  if (r.attempts) parts.push(`${r.attempts} attempts`);
  if (r.lastError && r.status !== 'complete') parts.push(`last error: ${r.lastError}`);
  return parts.join('; ');
}
