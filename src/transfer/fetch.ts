// The fetching side: asks the host(s) that may hold a domain's earlier history for their listing,
// downloads what this store lacks (resumable, offset-based, into <state_dir>/domains/<uuid>/fetch.partial/), verifies
// it by sha256 and imports it through the store (content-addressed: a re-run never duplicates a
// byte; a partial download is never visible). Completion = the previous host sealed its part after
// the guest left it (see ARCHITECTURE.md "Migration hand-over").
// Long: one fetch pass (listing, downloads, import, completion) shares its record and transport.
import * as fs from 'node:fs';
import { createHash } from '../util/crypto.js';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { withDomainLock } from '../store/lock.js';
import { SafeDir, locateAllowed } from '../store/safe-fs.js';
import { importSegment, openSegment } from '../store/segment-content.js';
import { listSegments, type SegmentMeta } from '../store/segments.js';
import { ensureDomainDir } from '../store/store.js';
import {
  HEAD_LEN,
  originId,
  parseListing,
  type ListedLive,
  type ListedSegment,
  type Listing,
} from './protocol.js';
import { raiseGeneration } from './order.js';
import { learnPeerMarkers } from './peer-markers.js';

export { originId } from './protocol.js';
import {
  FetchBusyError,
  partialDir,
  readFetchRecord,
  withFetchLock,
  writeFetchRecord,
  type FetchRecord,
} from './state.js';
import { TransportError, callPeerText, callPeerToFile } from './transport.js';
import { sharedWith } from './shared.js';
import { afterListFailure, afterListing, type ListingFacts } from './fetch-decide.js';
import { probeRound } from './probe.js';
import { importPeerTimes } from './fetch-times.js';

const C = fs.constants;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a job started at `migrate begin` polls the previous host for its final seal. */
export const SEAL_WAIT_MS = 10 * 60 * 1000;
/** Consecutive failed listings after which a job stops trying (the next sync or event retries). */
const MAX_LIST_FAILURES = 3;

export interface FetchOptions {
  /** Keep polling the source until its seal after the guest left appears (bounded by sealWaitMs). */
  waitForSeal: boolean;
  sealWaitMs?: number;
  /** Progress lines (the job has no terminal; `sync` prints them). */
  log?: (line: string) => void;
}

/** Segments of `listing` this store lacks, in history order (pure). */
export function planFetch(listing: Listing, have: ReadonlySet<string>): ListedSegment[] {
  return listing.segments
    .filter((s) => !have.has(originId(s.sidecar, s.key, s.host, s.sha256)))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A segment of `source` beyond the baseline (the keys it had while the guest was still leaving): its final seal (pure). */
export function sealedSince(listing: Listing, source: string, baseline: readonly string[]): boolean {
  const before = new Set(baseline);
  return listing.segments.some((s) => s.host === source && !before.has(s.key));
}

/**
 * Whether every live file of `source` is sealed to its end (pure). Files for which `isLocal` says
 * they are readable here (shared storage) owe nothing. With `requireBytes`, a source without any
 * live byte proves nothing (a guest that printed nothing there yet may still print).
 */
export function liveSealed(
  listing: Listing,
  source: string,
  requireBytes: boolean,
  isLocal: (l: ListedLive) => boolean = () => false,
): boolean {
  const live = listing.live.filter((l) => l.host === source && !isLocal(l));
  if (requireBytes && !live.some((l) => l.bytes > 0)) return false;
  return live.every((l) => l.sealed >= l.bytes);
}

/** A peer's live file that is the same file here (shared instances folder): same path and inode. */
export function liveFileIsHere(config: Config, l: ListedLive): boolean {
  const where = locateAllowed(l.path, config.allowedRoots);
  if (!where) return false;
  try {
    const folder = SafeDir.openBeneath(where.root, where.dirs);
    try {
      const st = folder.lstat(where.name);
      if (!st?.isFile() || st.ino !== l.ino) return false;
      // Same inode number on two local disks happens; the same first bytes too is the same file.
      const fd = folder.open(where.name, C.O_RDONLY | C.O_NONBLOCK);
      try {
        const buf = Buffer.alloc(HEAD_LEN);
        const n = fs.readSync(fd, buf, 0, HEAD_LEN, 0);
        return createHash('sha256').update(buf.subarray(0, n)).digest('hex') === l.head;
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      folder.close();
    }
  } catch {
    return false;
  }
}

/** Keys of `source`'s own segments in a listing: the baseline the final seal is told apart from. */
export function baselineOf(listing: Listing, source: string): string[] {
  return listing.segments.filter((s) => s.host === source).map((s) => s.key);
}

function localIds(config: Config, uuid: string): Set<string> {
  const ids = new Set<string>();
  for (const s of listSegments(config, uuid)) {
    const side = s as unknown as Record<string, unknown>;
    ids.add(originId(side, s.key, s.host, s.sha256));
    // A segment imported with its head cut off (see trimmedPrefix) stands for the whole original.
    const t = side.trimmedFrom as { sha256?: unknown } | undefined;
    if (typeof t?.sha256 === 'string') ids.add(originId(side, s.key, s.host, t.sha256));
  }
  return ids;
}

interface Origin {
  path: string;
  ino: number;
  start: number;
  end: number;
}

function originOf(sidecar: Record<string, unknown>): Origin | undefined {
  const o = sidecar.origin as Partial<Origin> | undefined;
  if (!o || typeof o.path !== 'string' || typeof o.ino !== 'number') return undefined;
  if (typeof o.start !== 'number' || typeof o.end !== 'number' || o.end < o.start) return undefined;
  return { path: o.path, ino: o.ino, start: o.start, end: o.end };
}

async function readRange(stream: AsyncIterable<unknown>, len: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const c of stream) {
    const b = c as Buffer;
    chunks.push(b);
    got += b.length;
    if (got >= len) break;
  }
  return Buffer.concat(chunks).subarray(0, len);
}

/**
 * How many leading bytes of a fetched segment this store holds already, byte for byte, in
 * segments sealed from the same origin file (same path and inode) over the same range. That
 * happens with a file serial on a shared instances folder: each host seals the shared file from
 * its own watermark, so a peer's seal can start with bytes this host sealed itself before a
 * restart truncated the file. Content is compared, not assumed: a namesake file never matches.
 */
async function trimmedPrefix(
  config: Config,
  uuid: string,
  seg: ListedSegment,
  part: string,
): Promise<number> {
  const o = originOf(seg.sidecar);
  if (!o || o.end - o.start !== seg.bytes) return 0;
  const local = listSegments(config, uuid)
    .map((l) => ({ key: l.key, o: originOf(l as unknown as Record<string, unknown>) }))
    .filter((l): l is { key: string; o: Origin } => !!l.o && l.o.path === o.path && l.o.ino === o.ino);
  let cur = o.start;
  const fd = fs.openSync(part, 'r');
  try {
    while (cur < o.end) {
      // A file truncated in place (same inode) held other boots at the same offsets before: every
      // local segment over `cur` is a candidate, the one with the same bytes is the match.
      let next: number | undefined;
      for (const l of local.filter((x) => x.o.start <= cur && cur < x.o.end)) {
        const upto = Math.min(l.o.end, o.end);
        const len = upto - cur;
        const mine = await readRange(openSegment(config, uuid, l.key, cur - l.o.start), len);
        const theirs = Buffer.alloc(len);
        fs.readSync(fd, theirs, 0, len, cur - o.start);
        if (mine.length === len && mine.equals(theirs)) {
          next = upto;
          break;
        }
      }
      if (next === undefined) break;
      cur = next;
    }
  } finally {
    fs.closeSync(fd);
  }
  return cur - o.start;
}

/** The sidecar of the segment without its first `cut` bytes (content in `file`). */
async function trimmedMeta(seg: ListedSegment, cut: number, file: string): Promise<SegmentMeta> {
  const side = seg.sidecar as unknown as SegmentMeta & Record<string, unknown>;
  const content = fs.readFileSync(file);
  let lines = 0;
  for (const b of content) if (b === 10) lines++;
  return {
    ...side,
    origin: { ...side.origin, start: side.origin.start + cut },
    plainBytes: content.length,
    lines,
    sha256: createHash('sha256').update(content).digest('hex'),
    boots: (side.boots ?? []).filter((m) => m.offset >= cut).map((m) => ({ ...m, offset: m.offset - cut })),
    trimmedFrom: { sha256: seg.sha256, bytes: cut },
  } as SegmentMeta;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * True when the segment's bytes are already readable here as the same byte range of the same live
 * file: a file serial on a shared instances folder (NFS), which both hosts log into. Importing it
 * would show those bytes twice (once from the archive, once from the live file); the local store
 * seals them in its own time. Paths from the peer's sidecar are only looked at inside the allowed
 * roots, without following symlinks, and only read to compare a hash.
 */
export function sameBytesHere(config: Config, seg: ListedSegment): boolean {
  const o = seg.sidecar.origin as
    { path?: unknown; ino?: unknown; start?: unknown; end?: unknown } | undefined;
  if (!o || typeof o.path !== 'string' || typeof o.ino !== 'number') return false;
  if (
    typeof o.start !== 'number' ||
    typeof o.end !== 'number' ||
    o.end - o.start !== seg.bytes ||
    seg.bytes === 0
  )
    return false;
  const where = locateAllowed(o.path, config.allowedRoots);
  if (!where) return false;
  let folder: SafeDir;
  try {
    folder = SafeDir.openBeneath(where.root, where.dirs);
  } catch {
    return false;
  }
  try {
    // virtlogd may have rotated it since: the inode follows `x.log` -> `x.log.0` ...
    for (const name of [where.name, ...Array.from({ length: 10 }, (_, i) => `${where.name}.${i}`)]) {
      const st = folder.lstat(name);
      if (!st?.isFile() || st.ino !== o.ino || st.size < o.end) continue;
      const fd = folder.open(name, C.O_RDONLY | C.O_NONBLOCK);
      try {
        const hash = createHash('sha256');
        const buf = Buffer.alloc(256 * 1024);
        let pos = o.start;
        while (pos < o.end) {
          const n = fs.readSync(fd, buf, 0, Math.min(buf.length, o.end - pos), pos);
          if (n <= 0) return false;
          hash.update(buf.subarray(0, n));
          pos += n;
        }
        return hash.digest('hex') === seg.sha256;
      } finally {
        fs.closeSync(fd);
      }
    }
    return false;
  } catch {
    return false;
  } finally {
    folder.close();
  }
}

interface Counters {
  segments: number;
  bytes: number;
  skippedShared: number;
  /** Leading bytes of fetched segments this store held already (shared file sealed by both hosts). */
  trimmed: number;
  /** Segments whose arrival times were imported in this run. */
  timed: number;
  /** Segment identities whose times were asked for in this run (asked once). */
  timesAsked: Set<string>;
  /** Segments dealt with in this run (imported, or not needed here): the poll does not redo them. */
  settled: Set<string>;
}

/**
 * Downloads one segment into its partial file (resuming at the partial file's size), verifies it
 * and imports it. A short download stays for the next attempt; a corrupt one is removed.
 */
async function fetchSegment(
  config: Config,
  uuid: string,
  peer: string,
  seg: ListedSegment,
  c: Counters,
): Promise<void> {
  const dir = partialDir(config.stateDir, uuid);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const part = posix.join(dir, `${seg.key}.${seg.sha256.slice(0, 16)}.part`);
  let have = 0;
  try {
    const st = fs.lstatSync(part);
    if (!st.isFile()) throw new Error(`${part} is not a regular file`);
    have = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (have > seg.bytes) {
    fs.unlinkSync(part);
    have = 0;
  }
  if (have < seg.bytes) {
    await callPeerToFile(config, peer, ['get', uuid, seg.key, String(have)], part, {
      timeoutMs: config.transferTimeoutSeconds * 1000,
    });
  } else if (!fs.existsSync(part)) {
    fs.writeFileSync(part, '', { mode: 0o600 }); // an empty segment
  }
  const size = fs.statSync(part).size;
  if (size < seg.bytes)
    throw new Error(`segment ${seg.key}: got ${size} of ${seg.bytes} bytes (resumed next time)`);
  const sha = await sha256OfFile(part);
  if (size !== seg.bytes || sha !== seg.sha256) {
    fs.unlinkSync(part);
    throw new Error(
      `segment ${seg.key}: content does not match the peer's sidecar (${size} bytes, sha256 ${sha}): discarded`,
    );
  }
  ensureDomainDir(config, uuid).close();
  const result = await withDomainLock(config, uuid, async () => {
    const cut = await trimmedPrefix(config, uuid, seg, part);
    if (cut === 0)
      return importSegment(config, uuid, seg.sidecar as unknown as SegmentMeta, fs.createReadStream(part));
    c.trimmed += cut;
    if (cut >= seg.bytes) return { key: seg.key, imported: false };
    const rest = `${part}.rest`;
    fs.writeFileSync(rest, fs.readFileSync(part).subarray(cut), { mode: 0o600 });
    try {
      return await importSegment(config, uuid, await trimmedMeta(seg, cut, rest), fs.createReadStream(rest));
    } finally {
      fs.unlinkSync(rest);
    }
  });
  fs.unlinkSync(part);
  if (result.imported) {
    c.segments++;
    c.bytes += seg.bytes;
  }
}

async function listPeer(config: Config, peer: string, uuid: string): Promise<Listing> {
  const text = await callPeerText(config, peer, ['list', uuid], {
    timeoutMs: config.transferTimeoutSeconds * 1000,
  });
  return parseListing(text, uuid);
}

/** Fetches every segment of `listing` this store lacks; returns the errors (the rest still goes on). */
async function fetchMissing(
  config: Config,
  uuid: string,
  peer: string,
  listing: Listing,
  c: Counters,
): Promise<string[]> {
  const errors: string[] = [];
  const have = localIds(config, uuid);
  for (const seg of planFetch(listing, have)) {
    const id = originId(seg.sidecar, seg.key, seg.host, seg.sha256);
    if (c.settled.has(id)) continue;
    if (sameBytesHere(config, seg)) {
      c.skippedShared++;
      c.settled.add(id);
      continue;
    }
    try {
      await fetchSegment(config, uuid, peer, seg, c);
      c.settled.add(id);
    } catch (e) {
      errors.push(`${seg.key}: ${(e as Error).message}`);
      if (e instanceof TransportError && e.unreachable) break;
    }
  }
  return errors;
}

/**
 * The fetch's status from each candidate's outcome (pure). With a hint whose host delivered its
 * part, peers that could not be reached are noted but do not hold the fetch open: they are only
 * asked in case the hint was stale, and a peer down for maintenance would else fail every fetch.
 */
export function overallStatus(
  sources: readonly string[],
  outcome: ReadonlyMap<string, 'complete' | 'waiting' | 'failed' | 'unreachable'>,
  previousHost: string | undefined,
): 'complete' | 'waiting-for-seal' | 'failed' {
  const hintDone = previousHost !== undefined && outcome.get(previousHost) === 'complete';
  const open = sources.filter((h) => {
    const o = outcome.get(h) ?? 'unreachable';
    return o !== 'complete' && !(o === 'unreachable' && hintDone && h !== previousHost);
  });
  if (open.length === 0) return 'complete';
  return open.every((h) => outcome.get(h) === 'waiting') ? 'waiting-for-seal' : 'failed';
}

/**
 * Works on a domain's fetch record until its history is here, the poll window ends, or the source
 * cannot be reached. Holds the domain's fetch lock (waiting up to `lockWaitMs` for another job).
 */
export async function runFetch(
  config: Config,
  uuid: string,
  opts: FetchOptions,
  lockWaitMs = 0,
): Promise<FetchRecord> {
  const log = opts.log ?? (() => undefined);
  const end = Date.now() + lockWaitMs;
  for (;;) {
    try {
      return await withFetchLock(config.stateDir, uuid, () => fetchLocked(config, uuid, opts, log));
    } catch (e) {
      if (!(e instanceof FetchBusyError) || Date.now() >= end) throw e;
      await sleep(500);
    }
  }
}

async function fetchLocked(
  config: Config,
  uuid: string,
  opts: FetchOptions,
  log: (line: string) => void,
): Promise<FetchRecord> {
  try {
    return await fetchLockedInner(config, uuid, opts, log);
  } catch (e) {
    // An unexpected error (store lock timeout, disk full...) still ends as a recorded failure.
    const cur = readFetchRecord(config.stateDir, uuid);
    if (cur && cur.status === 'running' && cur.pid === process.pid) {
      const { pid: _pid, ...rest } = cur;
      writeFetchRecord(config.stateDir, { ...rest, status: 'failed', lastError: (e as Error).message });
    }
    throw e;
  }
}

async function fetchLockedInner(
  config: Config,
  uuid: string,
  opts: FetchOptions,
  log: (line: string) => void,
): Promise<FetchRecord> {
  const found = readFetchRecord(config.stateDir, uuid);
  if (!found) throw new Error(`no history fetch recorded for domain ${uuid}`);
  let rec: FetchRecord = { ...found, status: 'running', pid: process.pid, attempts: found.attempts + 1 };
  rec.lastAttempt = new Date().toISOString();
  const save = () => writeFetchRecord(config.stateDir, rec);
  save();
  const c: Counters = {
    segments: 0,
    bytes: 0,
    skippedShared: 0,
    trimmed: 0,
    timed: 0,
    timesAsked: new Set(),
    settled: new Set(),
  };
  const sources = rec.candidates.filter((h) => h !== config.hostName);
  const shared = sources.filter((h) => sharedWith(config, uuid, h));
  if (shared.length) {
    log(`store shared with ${shared.join(', ')}: nothing to copy`);
    rec = { ...rec, status: 'nothing', lastError: undefined, source: shared[0] };
    delete rec.pid;
    save();
    return rec;
  }
  if (sources.length === 0) {
    rec = {
      ...rec,
      status: 'nothing',
      lastError: 'no previous host known (no metadata hint, no peers configured)',
    };
    delete rec.pid;
    save();
    return rec;
  }
  const round = await probeRound(config, uuid, sources, rec.previousHost, found.notMine ?? [], log);
  if (round.notMine.length) rec = { ...rec, notMine: round.notMine };
  const asked = round.sources;
  const errors: string[] = [];
  const outcome = new Map<string, 'complete' | 'waiting' | 'failed' | 'unreachable'>();
  const deadline = Date.now() + (opts.sealWaitMs ?? SEAL_WAIT_MS);
  const raised = new Set<number>();
  const markersHere = new Set<string>();
  for (const source of asked) {
    let failures = 0;
    let delay = 500;
    for (;;) {
      let listing: Listing | undefined;
      try {
        listing = round.listings.get(source) ?? (await listPeer(config, source, uuid));
        round.listings.delete(source);
        failures = 0;
      } catch (e) {
        failures++;
        const msg = `${source}: ${(e as Error).message}`;
        log(msg);
        if (
          afterListFailure(failures, MAX_LIST_FAILURES, !!opts.waitForSeal, Date.now() >= deadline) ===
          'unreachable'
        ) {
          errors.push(msg);
          outcome.set(source, 'unreachable');
          break;
        }
      }
      if (listing) {
        const isHere = (l: ListedLive) => liveFileIsHere(config, l);
        // A final seal is owed by the hint's host, and by any host where the guest's output is
        // still unsealed (the one it is leaving, even when the hint is missing or stale).
        const owes =
          source === rec.previousHost ||
          listing.live.some((l) => l.host === source && l.sealed < l.bytes && !isHere(l));
        if (!raised.has(listing.maxGeneration)) {
          const mark = await raiseGeneration(config, uuid, listing, rec.sealsFrom, log);
          if (mark !== undefined) rec.sealsFrom = mark;
          raised.add(listing.maxGeneration);
        }
        // The baseline is what the source had while the guest was still leaving it: only the
        // first job (started at migrate begin) sees that moment.
        if (opts.waitForSeal && found.attempts === 0 && rec.baseline === undefined && owes) {
          rec.baseline = baselineOf(listing, source);
        }
        // Before the segments: a seal here of a log both hosts see then already knows the peer's boots.
        try {
          const learnt = await learnPeerMarkers(config, uuid, listing, markersHere);
          if (learnt) log(`${source}: ${learnt} boot marker id(s) learnt`);
        } catch (e) {
          log(
            `${source}: boot marker ids not learnt (${(e as Error).message}): its markers here show as text`,
          );
        }
        const segErrors = await fetchMissing(config, uuid, source, listing, c);
        // Times travel with the segments; without them the lines are still there, coarsely timed.
        try {
          c.timed += await importPeerTimes(config, uuid, source, listing, log, c.timesAsked);
        } catch (e) {
          log(`${source}: arrival times not imported (${(e as Error).message}): coarse times`);
        }
        rec = {
          ...rec,
          source,
          segmentsFetched: found.segmentsFetched + c.segments,
          bytesFetched: found.bytesFetched + c.bytes,
        };
        save();
        if (segErrors.length) {
          errors.push(...segErrors.map((m) => `${source}: ${m}`));
          outcome.set(source, 'failed');
          break;
        }
        const baseline = rec.baseline;
        const facts: ListingFacts = {
          owes,
          sealedSinceBaseline: baseline !== undefined && sealedSince(listing, source, baseline),
          // Sealed to the end: proof enough for a later sync; the job wants bytes seen sealed,
          // since a source that has printed nothing yet may still print before the switchover.
          sealedToEnd: liveSealed(listing, source, opts.waitForSeal, isHere),
          sealedToEndLoose: liveSealed(listing, source, false, isHere),
        };
        const windowOver = Date.now() >= deadline;
        const step = afterListing(facts, !!opts.waitForSeal, windowOver);
        if (step === 'complete') {
          const early = !owes || facts.sealedSinceBaseline || facts.sealedToEnd;
          if (early) log(`${source}: ${owes ? 'sealed part fetched' : 'sealed segments fetched'}`);
          outcome.set(source, 'complete');
          break;
        }
        if (step === 'waiting') {
          log(`${source}: its part of the history is not sealed yet`);
          outcome.set(source, 'waiting');
          break;
        }
      }
      await sleep(delay);
      delay = Math.min(delay * 1.5, 5000);
    }
  }
  rec = {
    ...rec,
    // Every peer answered "not mine": a guest new to all of them.
    status: asked.length ? overallStatus(asked, outcome, rec.previousHost) : 'nothing',
    lastError: errors.length
      ? errors.slice(-3).join('; ')
      : asked.length
        ? undefined
        : 'no peer holds history of this domain',
  };
  if (c.timed) log(`arrival times of ${c.timed} fetched segment(s) imported`);
  if (c.skippedShared) log(`${c.skippedShared} segment(s) already readable here from a shared file`);
  if (c.trimmed)
    log(`${c.trimmed} byte(s) of fetched segments were here already (shared file): not imported twice`);
  // issue 15: the fetched history becomes a reader chain beside logs a management layer reads
  // (before the record says complete: whoever waits for that also finds the chain).
  if (rec.status === 'complete')
    await (await import('../chain/events.js')).layoutChainsAfterFetch(config, uuid, log);
  delete rec.pid;
  save();
  return rec;
}
