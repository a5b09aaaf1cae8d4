// Reading a domain's history: snapshot the store without its lock (segments from the archive index,
// watermarks, live files opened by fd so rotation cannot pull them away), merge, then stream only
// what is asked for. Tails are found from the end by arithmetic on the index's counts; content is
// read only for the pieces printed, plain files through one reused buffer.
import * as fs from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Config } from '../config/schema.js';
import {
  hostState,
  knownMarkerIds,
  parseDomainState,
  type DomainState,
  type DeviceState,
} from '../store/domain-state.js';
import { resolveDomain } from '../store/find.js';
import {
  DOMAIN_STATE_FILE,
  isInside,
  LOCK_NAME,
  SEAL_STATE_FILE,
  segmentFileNames,
} from '../store/layout.js';
import { withDomainLock } from '../store/lock.js';
import { MarkerScanner, resumedBoot, type BootMark } from '../store/markers.js';
import { openParentSafely, openRotationSet, readAt } from '../store/seal.js';
import {
  listArchiveForReading,
  openSegmentFile,
  readSidecars,
  type ListedSegment,
} from '../store/segments.js';
import { SafeDir } from '../store/safe-fs.js';
import { keysToReplay, openDomainDir, replaySealState } from '../store/store.js';
import { findTracked, headHash, parseSealState, unsealedStart, type SealState } from '../store/watermarks.js';
import {
  bootsInWindow,
  comparePos,
  endOf,
  listBoots,
  mergeHistory,
  pickBoot,
  rawBytesBetween,
  startOf,
  tailBytesStart,
  type Boot,
  type LiveTail,
  type Piece,
  type Position,
} from './merge.js';

const C = fs.constants;
const CHUNK = 256 * 1024;

export class HistoryError extends Error {
  override name = 'HistoryError';
  constructor(
    message: string,
    readonly code: 'not-found' | 'ambiguous' | 'no-boot' | 'no-device',
  ) {
    super(message);
  }
}

/** A snapshot of one device's history, with the live files held open. */
export interface History {
  uuid: string;
  name: string | undefined;
  device: string;
  devices: string[];
  state: DomainState;
  segments: ListedSegment[];
  pieces: Piece[];
  boots: Boot[];
  /** Open fds of live files, by "dev:ino". */
  fds: Map<string, number>;
  /** This host's live file of the device at snapshot time, and its size then (where -f starts). */
  followFrom?: { dev: number; ino: number; size: number };
  archive: SafeDir | undefined;
  config: Config;
  /** Sidecars read because the archive index lacked them (0 when the index is complete). */
  sidecarsRead: number;
  /** Reused read buffers: data events are views into them (see HistoryEvent). */
  buffers: { plain: Buffer; gz?: Buffer };
  /** Decoded bytes of the gzip piece a tail search just read, so printing does not decode it again. */
  decoded?: DecodedTail;
  close(): void;
}

/** Devices known for a domain, serial0 first. */
export function knownDevices(state: DomainState, segments: readonly { device: string }[]): string[] {
  const set = new Set<string>();
  for (const h of Object.values(state.hosts)) for (const d of Object.keys(h.devices)) set.add(d);
  for (const s of segments) set.add(s.device);
  const rank = (d: string) => (d.startsWith('serial') ? 0 : d.startsWith('console') ? 1 : 2);
  return [...set].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true }));
}

/** Resolves a name or UUID to exactly one domain of the store. */
export function resolveOne(
  config: Config,
  domain: string,
): { uuid: string; state: DomainState; name?: string } {
  const hits = resolveDomain(config, domain);
  if (!hits.length)
    throw new HistoryError(
      `no history for domain ${JSON.stringify(domain)} in ${config.logRoot}`,
      'not-found',
    );
  const uuids = new Set(hits.map((h) => h.uuid));
  if (uuids.size > 1)
    throw new HistoryError(
      `the name ${JSON.stringify(domain)} was used by several domains: ${[...uuids].join(', ')}; give a UUID`,
      'ambiguous',
    );
  const h = hits[0] as (typeof hits)[number];
  return { uuid: h.uuid, state: h.state, ...(h.name ? { name: h.name } : {}) };
}

/** Opens a snapshot of a domain's history for one device (default serial0, else the first). */
export async function openHistory(config: Config, domain: string, device?: string): Promise<History> {
  const { uuid, name } = resolveOne(config, domain);
  // No lock first: the snapshot is kept when no writer held the lock or touched the state files
  // and folders while it was taken (then it is what a locked snapshot would have been).
  for (let attempt = 0; attempt < 3; attempt++) {
    const h = snapshotHistory(config, uuid, name, device, true);
    if (typeof h === 'object') return h;
    if (h === 'locked') break;
  }
  const snapshot = () => snapshotHistory(config, uuid, name, device, false) as History;
  // A writer is at work: a brief lock waits for it; readers without write access to the store (or
  // a stuck lock) read without it.
  try {
    return await withDomainLock(config, uuid, snapshot, { waitMs: Math.min(config.lockWaitMs, 2000) });
  } catch (e) {
    if (e instanceof HistoryError) throw e;
    return snapshot();
  }
}

/**
 * What a writer changes: the lock folder (present while held), the state files (written by
 * rename: a new inode each time) and both folders' mtimes. Undefined while the lock is held.
 */
export function storeStamp(dir: SafeDir, archive: SafeDir | undefined): string | undefined {
  if (dir.lstat(LOCK_NAME)) return undefined;
  return [
    dir.selfStamp(),
    dir.stamp(DOMAIN_STATE_FILE),
    dir.stamp(SEAL_STATE_FILE),
    archive?.selfStamp(),
  ].join(' ');
}

/**
 * Takes a snapshot. `optimistic` (no lock held): 'locked' when a writer holds the lock, 'changed'
 * when one wrote while the snapshot was taken (the caller tries again).
 */
function snapshotHistory(
  config: Config,
  uuid: string,
  name: string | undefined,
  device: string | undefined,
  optimistic: boolean,
): History | 'locked' | 'changed' {
  const dir = openDomainDir(config, uuid);
  if (!dir) throw new HistoryError(`no history for ${uuid}`, 'not-found');
  const fds = new Map<string, number>();
  let archive: SafeDir | undefined;
  let kept = false;
  try {
    try {
      archive = dir.sub('archive');
    } catch {
      archive = undefined;
    }
    const before = optimistic ? storeStamp(dir, archive) : '';
    if (before === undefined) return 'locked';
    // sealed.json before the listing: a seal that completes in between is then replayed from its
    // sidecar (as after a crash), never counted as sealed without its segment in the listing.
    const parsedSeal = archive ? parseSealState(dir.readText(SEAL_STATE_FILE)) : undefined;
    const { segments, sidecarsRead } = archive
      ? listArchiveForReading(archive)
      : { segments: [], sidecarsRead: 0 };
    const seal: SealState = archive
      ? replaySealState(
          parsedSeal,
          readSidecars(
            archive,
            keysToReplay(
              parsedSeal,
              segments.map((s) => s.key),
            ),
          ),
        ).state
      : { version: 1, nextSeq: 1, files: [] };
    const state = parseDomainState(uuid, dir.readText(DOMAIN_STATE_FILE));
    const devices = knownDevices(state, segments);
    const chosen = device ?? devices[0];
    if (!chosen) throw new HistoryError(`domain ${uuid} has no logged device yet`, 'no-device');
    if (device && !devices.includes(device))
      throw new HistoryError(
        `domain ${uuid} has no device ${device} (known: ${devices.join(', ') || 'none'})`,
        'no-device',
      );
    const buffers = { plain: Buffer.allocUnsafe(CHUNK) };
    const live: LiveTail[] = [];
    const known = knownMarkerIds(state);
    let followFrom: History['followFrom'];
    for (const [host, h] of Object.entries(state.hosts)) {
      const d = h.devices[chosen];
      if (!d) continue;
      // Another host's live_dir file is on that host's disk (a shared store): what is here is ours.
      if (host !== config.hostName && isInside(config.liveDir, d.path)) continue;
      const r = liveTails(
        config,
        seal,
        host,
        hostState(state, host).generation,
        chosen,
        d,
        fds,
        known,
        buffers.plain,
      );
      const first = r.tails[0];
      // A fast guest can outrun virtlogd's backups: the file holding the current boot's marker is gone.
      const resumed =
        first &&
        resumedBoot(
          d.boot,
          d.truncating,
          first.start,
          (id) =>
            r.tails.some((x) => x.boots.some((b) => b.id === id)) ||
            segments.some((x) => x.device === chosen && x.boots.some((b) => b.id === id)),
        );
      if (first && resumed) first.boots.unshift(resumed);
      live.push(...r.tails);
      if (host === config.hostName && r.base) followFrom = r.base;
    }
    if (optimistic && storeStamp(dir, archive) !== before) return 'changed';
    const pieces = mergeHistory(segments, live, chosen);
    const opened = archive;
    const history: History = {
      uuid,
      name,
      device: chosen,
      devices,
      state,
      segments,
      pieces,
      boots: listBoots(pieces),
      fds,
      ...(followFrom ? { followFrom } : {}),
      archive,
      config,
      sidecarsRead,
      buffers,
      close() {
        for (const fd of fds.values()) fs.closeSync(fd);
        fds.clear();
        opened?.close();
      },
    };
    kept = true;
    return history;
  } finally {
    if (!kept) {
      for (const fd of fds.values()) fs.closeSync(fd);
      archive?.close();
    }
    dir.close();
  }
}

/** The unsealed tails of a device's live files on this machine, markers scanned. */
function liveTails(
  config: Config,
  seal: SealState,
  host: string,
  generation: number,
  device: string,
  d: DeviceState,
  fds: Map<string, number>,
  known: Set<string>,
  buf: Buffer,
): { tails: LiveTail[]; base?: { dev: number; ino: number; size: number } } {
  const opened = openParentSafely(config, d.path);
  if (!('dir' in opened)) return { tails: [] };
  const out: LiveTail[] = [];
  let base: { dev: number; ino: number; size: number } | undefined;
  try {
    const { files } = openRotationSet(opened.dir, opened.name);
    files.forEach(({ file, fd, st }, order) => {
      const key = `${st.dev}:${st.ino}`;
      if (fds.has(key)) {
        fs.closeSync(fd);
        return;
      }
      fds.set(key, fd);
      if (file === opened.name) base = { dev: st.dev, ino: st.ino, size: st.size };
      const id = {
        dev: st.dev,
        ino: st.ino,
        birthtimeMs: Math.floor(st.birthtimeMs),
        size: st.size,
        ctimeMs: st.ctimeMs,
      };
      const tracked = findTracked(seal, id, host);
      const { start, rewritten } = unsealedStart(tracked, id, (len) => headHash(readAt(fd, len, 0)));
      if (st.size <= start) return;
      const scan = new MarkerScanner(start);
      for (const chunk of plainBytes(fd, start, st.size, buf)) scan.feed(chunk);
      const boots: BootMark[] = scan.marks.filter((m) => known.has(m.id));
      const isBase = file === opened.name;
      const bootAt0 = d.truncating && isBase && (rewritten || (start === 0 && !tracked));
      if (bootAt0 && d.boot && boots[0]?.offset !== start)
        boots.unshift({ offset: start, id: d.boot.id, host: d.boot.host, at: d.boot.at, markerBytes: 0 });
      out.push({
        host,
        device,
        generation,
        path: opened.dir.display(file),
        dev: st.dev,
        ino: st.ino,
        order,
        start,
        end: st.size,
        lines: scan.lines,
        boots,
        firstTime: (!rewritten && tracked?.updated) || d.boot?.at || st.birthtime.toISOString(),
        lastTime: st.mtime.toISOString(),
      });
    });
  } finally {
    opened.dir.close();
  }
  return { tails: out, ...(base ? { base } : {}) };
}

/** Bytes [a, b) of an open uncompressed file, read into `buf` (each chunk valid until the next). */
function* plainBytes(fd: number, a: number, b: number, buf: Buffer): Generator<Buffer> {
  for (let pos = a; pos < b;) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, b - pos), pos);
    if (!n) return;
    pos += n;
    yield buf.subarray(0, n);
  }
}

/** Decoded bytes [from, to) of one gzip piece, kept from a tail search for the print that follows. */
interface DecodedTail {
  piece: Piece;
  from: number;
  to: number;
  chunks: Buffer[];
}

/** A tail search keeps at most this much decoded gzip output (beyond it, printing decodes again). */
const MAX_DECODED_TAIL = 8 * 1024 * 1024;

/**
 * Plain bytes [0, b) of a gzip segment, decoded from an open fd: compressed input is read into a
 * reused buffer, the decoder's output chunks are fresh (zlib allocates them).
 */
async function* gunzipBytes(fd: number, b: number, input: Buffer): AsyncGenerator<Buffer> {
  // Small output chunks: zlib allocates each one, and the garbage V8 lets pile up between collections
  // grows with the chunk size (whole history: 62 MiB peak RSS at 16 KiB, 74 at 64 KiB, 87 at 128).
  const gunzip = createGunzip({ chunkSize: 16 * 1024 });
  // The decoder may hold an input chunk until its write callback: the buffer is refilled only then.
  // Once the decoder is destroyed (output read far enough, or an error) the fd is not read again.
  const feed = async () => {
    for (let pos = 0; !gunzip.destroyed;) {
      const n = fs.readSync(fd, input, 0, input.length, pos);
      if (!n) break;
      pos += n;
      const err = await new Promise<Error | null | undefined>((r) => gunzip.write(input.subarray(0, n), r));
      if (err) return;
    }
    if (!gunzip.destroyed) gunzip.end();
  };
  void feed().catch((e: Error) => gunzip.destroy(e));
  let pos = 0;
  try {
    for await (const c of gunzip as AsyncIterable<Buffer>) {
      yield pos + c.length <= b ? c : c.subarray(0, b - pos);
      pos += c.length;
      if (pos >= b) break;
    }
  } finally {
    gunzip.destroy();
  }
}

/** Plain bytes [a, b) of one piece's source, in order; chunks are valid until the next is asked for. */
async function* pieceBytes(h: History, p: Piece, a: number, b: number): AsyncGenerator<Buffer> {
  if (b <= a) return;
  if (p.source.kind === 'live') {
    const fd = h.fds.get(`${p.source.dev}:${p.source.ino}`);
    if (fd === undefined) throw new Error(`live file ${p.source.path} is not open`);
    yield* plainBytes(fd, a, b, h.buffers.plain);
    return;
  }
  const d = h.decoded;
  if (d && d.piece === p && d.from <= a && b <= d.to) {
    let pos = d.from;
    for (const c of d.chunks) {
      const from = Math.max(0, a - pos);
      const to = Math.min(c.length, b - pos);
      if (to > from) yield c.subarray(from, to);
      pos += c.length;
      if (pos >= b) return;
    }
    return;
  }
  const archive = h.archive;
  if (!archive) throw new Error('no archive');
  const { fd, gz } = openSegmentFile(archive, p.source.key);
  try {
    if (!gz) {
      yield* plainBytes(fd, a, b, h.buffers.plain);
      return;
    }
    h.buffers.gz ??= Buffer.allocUnsafe(CHUNK);
    let pos = 0;
    for await (const c of gunzipBytes(fd, b, h.buffers.gz)) {
      const cStart = pos;
      pos += c.length;
      if (pos <= a) continue;
      yield c.subarray(Math.max(0, a - cStart));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * One event of a history read. `data` is a view into the reader's reused buffers: it is valid until
 * the next event is asked for (copy it, `Buffer.from(data)`, to keep it; a stream write must have
 * completed, its callback called, before the next).
 */
export type HistoryEvent =
  | { type: 'boot'; boot: BootInfo }
  | {
      type: 'data';
      data: Buffer;
      host: string;
      device: string;
      /** Where data[0] lies: index into History.pieces and offset in its source (issue 17: line times). */
      piece?: number;
      offset?: number;
    };

export interface BootInfo {
  index: number;
  id: string;
  host: string;
  at: string;
  implicit: boolean;
}

function bootInfo(b: Boot): BootInfo {
  return { index: b.index, id: b.id, host: b.host, at: b.at, implicit: b.implicit };
}

/**
 * Streams [from, to) oldest first: data, and boot events at boundaries (raw: data only, marker
 * lines left out). The boot the range starts in is announced first.
 */
export async function* streamRange(
  h: History,
  from: Position,
  to: Position,
  raw: boolean,
): AsyncGenerator<HistoryEvent> {
  if (comparePos(from, to) >= 0) return;
  if (!raw) {
    const current = [...h.boots].reverse().find((b) => comparePos(b.from, from) <= 0);
    const startsAtBoundary = h.boots.some((b) => comparePos(b.from, from) === 0 && !b.implicit);
    if (current && !startsAtBoundary) yield { type: 'boot', boot: bootInfo(current) };
  }
  for (let i = from.piece; i <= to.piece && i < h.pieces.length; i++) {
    const p = h.pieces[i] as Piece;
    const a = i === from.piece ? from.offset : p.start;
    const b = i === to.piece ? to.offset : p.end;
    if (b <= a && !p.boots.some((m) => m.offset === a)) continue;
    const cuts = p.boots.filter((m) => m.offset >= a && m.offset < b).sort((x, y) => x.offset - y.offset);
    let pos = a;
    let cut = 0;
    let skipUntil = -1;
    const emitBoot = function* (m: BootMark): Generator<HistoryEvent> {
      if (raw) return;
      const boot = h.boots.find((x) => x.from.piece === i && x.from.offset === m.offset && x.id === m.id);
      yield {
        type: 'boot',
        boot: boot ? bootInfo(boot) : { index: 0, id: m.id, host: m.host, at: m.at, implicit: false },
      };
    };
    while (cut < cuts.length && (cuts[cut] as BootMark).offset === pos) {
      const m = cuts[cut++] as BootMark;
      yield* emitBoot(m);
      skipUntil = m.offset + m.markerBytes;
    }
    for await (const chunk of pieceBytes(h, p, a, b)) {
      let c = chunk;
      while (c.length) {
        if (pos < skipUntil) {
          const n = Math.min(skipUntil - pos, c.length);
          c = c.subarray(n);
          pos += n;
          continue;
        }
        const next = cuts[cut];
        const upTo = next ? Math.min(c.length, next.offset - pos) : c.length;
        if (upTo > 0) {
          yield {
            type: 'data',
            data: c.subarray(0, upTo),
            host: p.host,
            device: p.device,
            piece: i,
            offset: pos,
          };
          c = c.subarray(upTo);
          pos += upTo;
        }
        while (cut < cuts.length && (cuts[cut] as BootMark).offset === pos) {
          const m = cuts[cut++] as BootMark;
          yield* emitBoot(m);
          skipUntil = m.offset + m.markerBytes;
        }
      }
    }
  }
}

/** Offsets of the last bytes of a piece's marker lines (those newlines are not guest lines). */
function markerEnds(p: Piece): Set<number> {
  return new Set(p.boots.filter((m) => m.markerBytes).map((m) => m.offset + m.markerBytes - 1));
}

/** What a search from the end of [a, b) of one piece found. */
interface EndScan {
  /** Offsets of the last guest newlines, newest first (at most the limit asked for). */
  newlines: number[];
  /** Guest newlines in [a, b), when fewer than the limit. */
  total: number;
  /** The last raw byte (marker lines excluded), undefined if the range holds none. */
  lastRaw?: number;
}

/** Backward search in a plain file: the last `limit` guest newlines of [a, b). */
function plainScanFromEnd(
  fd: number,
  p: Piece,
  a: number,
  b: number,
  limit: number,
  buf: Buffer,
  rawAt?: number,
): EndScan {
  const ends = markerEnds(p);
  const out: EndScan = { newlines: [], total: 0 };
  if (rawAt !== undefined && fs.readSync(fd, buf, 0, 1, rawAt) === 1) out.lastRaw = buf[0];
  for (let hi = b; hi > a;) {
    const lo = Math.max(a, hi - buf.length);
    // A file truncated meanwhile (a restart) reads short: only the bytes read are searched.
    const n = fs.readSync(fd, buf, 0, hi - lo, lo);
    for (let i = buf.lastIndexOf(10, n - 1); i >= 0; i = i > 0 ? buf.lastIndexOf(10, i - 1) : -1) {
      if (ends.has(lo + i)) continue;
      out.newlines.push(lo + i);
      if (out.newlines.length === limit) return out;
    }
    hi = lo;
  }
  out.total = out.newlines.length;
  return out;
}

/**
 * Forward search (a gzip piece can only be decoded from its start): the last `limit` guest newlines
 * of [a, b) and the total. The decoded bytes from the oldest newline kept to `b` are kept on the
 * History (when small), so that printing them does not decode the piece again.
 */
async function forwardScanFromEnd(
  h: History,
  p: Piece,
  a: number,
  b: number,
  limit: number,
  rawAt?: number,
): Promise<EndScan> {
  const ends = markerEnds(p);
  // The last `limit` newlines are ring[head..]; dropped ones are cut off now and then (amortised O(1)).
  let ring: number[] = [];
  let head = 0;
  let total = 0;
  let lastRaw: number | undefined;
  let kept: Buffer[] = [];
  let keptFrom = a;
  let keptBytes = 0;
  let keep = true;
  let pos = a;
  for await (const c of pieceBytes(h, p, a, b)) {
    if (rawAt !== undefined && rawAt >= pos && rawAt < pos + c.length) lastRaw = c[rawAt - pos];
    for (let i = c.indexOf(10); i >= 0; i = c.indexOf(10, i + 1)) {
      if (ends.has(pos + i)) continue;
      total++;
      ring.push(pos + i);
      if (ring.length - head > limit) head++;
    }
    if (head > 4096 && head * 2 > ring.length) {
      ring = ring.slice(head);
      head = 0;
    }
    if (keep) {
      // The decoder's chunks are its own and may be kept; one read into the reused buffer is copied.
      kept.push(c.buffer === h.buffers.plain.buffer ? Buffer.from(c) : c);
      keptBytes += c.length;
      // Bytes before the oldest newline still needed are not printed: drop whole chunks of them.
      const need = ring.length - head === limit ? (ring[head] as number) + 1 : a;
      while (kept.length > 1 && keptFrom + (kept[0] as Buffer).length <= need) {
        keptFrom += (kept[0] as Buffer).length;
        keptBytes -= (kept.shift() as Buffer).length;
      }
      if (keptBytes > MAX_DECODED_TAIL) {
        keep = false;
        kept = [];
      }
    }
    pos += c.length;
  }
  if (keep) h.decoded = { piece: p, from: keptFrom, to: pos, chunks: kept };
  return { newlines: ring.slice(head).reverse(), total, ...(lastRaw !== undefined ? { lastRaw } : {}) };
}

/** The position of the last raw byte of [a, b) of piece i (marker lines skipped), if any. */
function lastRawPos(h: History, i: number, a: number, b: number): number | undefined {
  const start = tailBytesStart(h.pieces, 1, { piece: i, offset: a }, { piece: i, offset: b });
  return start.piece === i &&
    start.offset < b &&
    rawBytesBetween(h.pieces, start, { piece: i, offset: b }) === 1
    ? start.offset
    : undefined;
}

/** Where the last `n` guest lines before `to` begin (tail -n semantics; marker lines do not count). */
export async function tailLinesStart(h: History, n: number, from: Position, to: Position): Promise<Position> {
  if (n <= 0) return to;
  // Newlines still to find: n, or n + 1 when the output ends with one (known at the last raw byte).
  let k: number | undefined;
  for (let i = to.piece; i >= from.piece && i >= 0; i--) {
    const p = h.pieces[i] as Piece;
    const a = i === from.piece ? from.offset : p.start;
    const b = i === to.piece ? to.offset : p.end;
    if (b <= a) continue;
    if (k !== undefined && a === p.start && b === p.end) {
      const markers = p.boots.filter((m) => m.markerBytes && m.offset >= a && m.offset < b).length;
      const count = p.lines - markers;
      if (count < k) {
        k -= count;
        continue;
      }
    }
    const rawAt = k === undefined ? lastRawPos(h, i, a, b) : undefined;
    if (k === undefined && rawAt === undefined) continue; // marker lines only
    const limit = k ?? n + 1;
    let r: EndScan | undefined;
    const fd = p.source.kind === 'live' ? h.fds.get(`${p.source.dev}:${p.source.ino}`) : undefined;
    if (fd !== undefined) r = plainScanFromEnd(fd, p, a, b, limit, h.buffers.plain, rawAt);
    else if (p.source.kind === 'segment' && !p.source.compressed) {
      let sfd: number | undefined;
      try {
        sfd = (h.archive as SafeDir).open(segmentFileNames(p.source.key).plain, C.O_RDONLY);
        r = plainScanFromEnd(sfd, p, a, b, limit, h.buffers.plain, rawAt);
      } catch (e) {
        // Compressed meanwhile: the forward search below opens the gzip file.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      } finally {
        if (sfd !== undefined) fs.closeSync(sfd);
      }
    }
    r ??= await forwardScanFromEnd(h, p, a, b, limit, rawAt);
    if (k === undefined) k = n + (r.lastRaw === 10 ? 1 : 0);
    if (r.newlines.length >= k) return { piece: i, offset: (r.newlines[k - 1] as number) + 1 };
    k -= r.total;
  }
  return from;
}

export interface ReadOptions {
  /** Device to read (default serial0, else the first logged one). */
  device?: string;
  /** -n: the last N lines. */
  lines?: number;
  /** -c: exactly the last N raw bytes, oldest first, without separators or markers. */
  bytes?: number;
  /** -b: journalctl boot selector ('' or '0' newest, -1 previous, 1 oldest, or an id). */
  boot?: string;
  since?: Date;
  until?: Date;
  /** Keep printing what the guest writes (through rotation and new boots). */
  follow?: boolean;
  followPollMs?: number;
  signal?: AbortSignal;
}

/** The window of history the options select, and whether output is raw. */
export async function selectRange(
  h: History,
  o: ReadOptions,
): Promise<{ from: Position; to: Position; raw: boolean }> {
  let from = startOf(h.pieces);
  let to = endOf(h.pieces);
  if (o.boot !== undefined) {
    const b = pickBoot(h.boots, o.boot);
    if (!b)
      throw new HistoryError(
        `no boot ${JSON.stringify(o.boot)} (${h.boots.length} boots; see --list-boots)`,
        'no-boot',
      );
    from = b.from;
    to = b.to;
  }
  if (o.since || o.until) {
    const inWin = bootsInWindow(h.boots, o.since, o.until).filter(
      (b) => comparePos(b.from, to) < 0 && comparePos(b.to, from) > 0,
    );
    if (!inWin.length) return { from: to, to, raw: o.bytes !== undefined };
    const first = inWin[0] as Boot;
    const last = inWin[inWin.length - 1] as Boot;
    if (comparePos(first.from, from) > 0) from = first.from;
    if (comparePos(last.to, to) < 0) to = last.to;
  }
  if (o.bytes !== undefined) return { from: tailBytesStart(h.pieces, o.bytes, from, to), to, raw: true };
  if (o.lines !== undefined) from = await tailLinesStart(h, o.lines, from, to);
  return { from, to, raw: false };
}

/**
 * The library form of `virt-consolelog show`: a domain's history (name or UUID) as events,
 * oldest first. With `follow`, keeps yielding new output until `signal` aborts.
 */
export async function* readHistory(
  config: Config,
  domain: string,
  o: ReadOptions = {},
): AsyncGenerator<HistoryEvent> {
  const h = await openHistory(config, domain, o.device);
  try {
    const { from, to, raw } = await selectRange(h, o);
    yield* streamRange(h, from, to, raw);
    if (o.follow) yield* followLive(h, raw, o);
  } finally {
    h.close();
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Output rate (bytes per ms, 64 KiB/s) above which a followed guest counts as printing fast. */
const FAST_GUEST_BYTES_PER_MS = 64;

/**
 * Follows this host's live file of the device: new bytes; virtlogd rotation (the file we hold is
 * drained, then each newer file of the rotation set in turn, so a fast guest loses nothing while
 * virtlogd keeps the files); in-place truncation by a new boot (read from 0); boot markers in-band.
 */
async function* followLive(h: History, raw: boolean, o: ReadOptions): AsyncGenerator<HistoryEvent> {
  const { config } = h;
  const poll = o.followPollMs ?? 250;
  // A guest printing fast fills virtlogd's few files in well under a second: poll it often, so no
  // file of the rotation set is deleted before we opened it.
  const fastPoll = Math.min(poll, 25);
  let drained = 0;
  let since = Date.now();
  let cur: { fd: number; dev: number; ino: number; pos: number; own: boolean } | undefined;
  const ff = h.followFrom;
  const ffd = ff && h.fds.get(`${ff.dev}:${ff.ino}`);
  if (ff && ffd !== undefined) cur = { fd: ffd, dev: ff.dev, ino: ff.ino, pos: ff.size, own: false };
  let filter = new MarkerFilter();
  let lastBoot = h.boots.at(-1)?.id;
  const emit = function* (events: FilterEvent[]): Generator<HistoryEvent> {
    for (const e of events) {
      if (e.type === 'boot') {
        lastBoot = e.boot.id;
        if (!raw) yield { type: 'boot', boot: { index: 0, ...e.boot, implicit: false } };
      } else yield { type: 'data', data: e.data, host: config.hostName, device: h.device };
    }
  };
  const drain = function* (c: NonNullable<typeof cur>): Generator<HistoryEvent> {
    const size = fs.fstatSync(c.fd).size;
    while (c.pos < size) {
      const chunk = readAt(c.fd, Math.min(CHUNK, size - c.pos), c.pos);
      if (!chunk.length) break;
      c.pos += chunk.length;
      drained += chunk.length;
      yield* emit(filter.feed(chunk));
    }
  };
  while (!o.signal?.aborted) {
    let d: DeviceState | undefined;
    try {
      const dir = openDomainDir(config, h.uuid);
      if (dir) {
        try {
          d = parseDomainState(h.uuid, dir.readText(DOMAIN_STATE_FILE)).hosts[config.hostName]?.devices[
            h.device
          ];
        } finally {
          dir.close();
        }
      }
    } catch {
      d = undefined;
    }
    let files: { file: string; fd: number; st: fs.Stats }[] = [];
    let baseName = '';
    if (d) {
      const opened = openParentSafely(config, d.path);
      if ('dir' in opened) {
        try {
          files = openRotationSet(opened.dir, opened.name).files;
          baseName = opened.name;
        } finally {
          opened.dir.close();
        }
      }
    }
    let next: (typeof files)[number] | undefined;
    if (cur) {
      const st = fs.fstatSync(cur.fd);
      const base = files.find((f) => f.file === baseName);
      // A truncating source (file serial) restarted: rewritten from 0 once the new boot wrote to it.
      const restarted =
        d?.truncating &&
        d.boot &&
        d.boot.id !== lastBoot &&
        st.mtimeMs >= Date.parse(d.boot.at) &&
        base?.st.ino === cur.ino;
      if (st.size < cur.pos || restarted) {
        cur.pos = 0;
        filter = new MarkerFilter();
        if (d?.boot && d.boot.id !== lastBoot) yield* emit([{ type: 'boot', boot: d.boot }]);
      }
      yield* drain(cur);
      const c = cur;
      const idx = files.findIndex((f) => f.st.ino === c.ino && f.st.dev === c.dev);
      // The next newer file: after ours in the set, or the oldest kept if ours was deleted already.
      if (idx >= 0 && idx < files.length - 1) next = files[idx + 1];
      else if (idx < 0 && files.length) next = files[0];
    } else {
      next = files.find((f) => f.file === baseName);
    }
    for (const f of files) if (f !== next) fs.closeSync(f.fd);
    if (next) {
      if (cur?.own) fs.closeSync(cur.fd);
      yield* emit(filter.flush());
      filter = new MarkerFilter();
      cur = { fd: next.fd, dev: next.st.dev, ino: next.st.ino, pos: 0, own: true };
      continue; // read the newer file at once
    }
    yield* emit(filter.flushIfStale());
    // The rate over the last round, its sleep included.
    const now = Date.now();
    const fast = drained / Math.max(1, now - since) >= FAST_GUEST_BYTES_PER_MS;
    drained = 0;
    since = now;
    await sleep(fast ? fastPoll : poll, o.signal);
  }
  if (cur) yield* drain(cur);
  yield* emit(filter.flush());
  if (cur?.own) fs.closeSync(cur.fd);
}

type FilterEvent =
  { type: 'data'; data: Buffer } | { type: 'boot'; boot: { id: string; host: string; at: string } };

const MARKER_PREFIX = Buffer.from('--- virt-consolelog boot=');

/**
 * Splits a live byte stream into guest data and boot markers. Only a line start that may still
 * become a marker is held back (briefly), so a prompt without a newline is printed at once.
 */
class MarkerFilter {
  private held = Buffer.alloc(0);
  private atLineStart = true;
  private heldPolls = 0;

  feed(chunk: Buffer): FilterEvent[] {
    const out: FilterEvent[] = [];
    let buf = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    this.heldPolls = 0;
    while (buf.length) {
      if (this.atLineStart) {
        const nl = buf.indexOf(10);
        const line = nl >= 0 ? buf.subarray(0, nl + 1) : buf;
        const prefixLen = Math.min(line.length, MARKER_PREFIX.length);
        if (line.subarray(0, prefixLen).equals(MARKER_PREFIX.subarray(0, prefixLen))) {
          if (nl < 0) {
            if (line.length < 300) {
              this.held = Buffer.from(line);
              return out;
            }
          } else {
            const scan = new MarkerScanner();
            scan.feed(line);
            const m = scan.marks[0];
            if (m) {
              out.push({ type: 'boot', boot: { id: m.id, host: m.host, at: m.at } });
              buf = buf.subarray(nl + 1);
              continue;
            }
          }
        }
      }
      const nl = buf.indexOf(10);
      const part = nl >= 0 ? buf.subarray(0, nl + 1) : buf;
      out.push({ type: 'data', data: Buffer.from(part) });
      this.atLineStart = nl >= 0;
      buf = buf.subarray(part.length);
    }
    return out;
  }

  /** A held partial line that did not grow for a few polls is guest output after all. */
  flushIfStale(): FilterEvent[] {
    if (!this.held.length || ++this.heldPolls < 4) return [];
    return this.flush();
  }

  flush(): FilterEvent[] {
    if (!this.held.length) return [];
    const data = this.held;
    this.held = Buffer.alloc(0);
    this.atLineStart = false;
    return [{ type: 'data', data }];
  }
}
