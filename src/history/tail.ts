// Tail search (-n): where the last N guest lines begin, found from the end; plain files are searched
// backwards, gzip pieces forwards member by member from the last (the decoded tail kept for the print).
import * as fs from 'node:fs';
import { memberAt, readMemberIndex, type MemberIndex } from '../store/gzip-members.js';
import { segmentFileNames } from '../store/layout.js';
import type { SafeDir } from '../store/safe-fs.js';
import { openSegmentFile } from '../store/segments.js';
import { MAX_DECODED_TAIL, pieceBytes } from './content.js';
import { rawBytesBetween, tailBytesStart, type Piece, type Position } from './merge.js';
import type { History } from './types.js';

const C = fs.constants;

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

/** The member starts of a gzip segment piece, if it has an index (else undefined: decode from 0). */
function memberIndex(h: History, p: Piece): MemberIndex | undefined {
  if (p.source.kind !== 'segment' || !p.source.compressed || !h.archive) return undefined;
  let fd: number | undefined;
  try {
    const opened = openSegmentFile(h.archive, p.source.key);
    fd = opened.fd;
    return opened.gz ? readMemberIndex(fd) : undefined;
  } catch {
    return undefined; // gone or changed meanwhile: the forward search reports it as before
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Search from the end of a gzip piece with a member index: member by member backwards (each
 * decoded forwards), so a tail decodes its last members only, not the segment from its start.
 */
async function memberScanFromEnd(
  h: History,
  p: Piece,
  a: number,
  b: number,
  limit: number,
  rawAt?: number,
): Promise<EndScan> {
  const index = memberIndex(h, p);
  if (!index) return forwardScanFromEnd(h, p, a, b, limit, rawAt);
  const out: EndScan = { newlines: [], total: 0 };
  for (let hi = b; hi > a;) {
    const lo = Math.max(a, memberAt(index, hi - 1).plain);
    const raw = rawAt !== undefined && rawAt >= lo && rawAt < hi ? rawAt : undefined;
    const r = await forwardScanFromEnd(h, p, lo, hi, limit - out.newlines.length, raw);
    if (r.lastRaw !== undefined) out.lastRaw = r.lastRaw;
    out.newlines.push(...r.newlines);
    if (out.newlines.length >= limit) return out;
    hi = lo;
  }
  out.total = out.newlines.length;
  return out;
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
    r ??= await memberScanFromEnd(h, p, a, b, limit, rawAt);
    if (k === undefined) k = n + (r.lastRaw === 10 ? 1 : 0);
    if (r.newlines.length >= k) return { piece: i, offset: (r.newlines[k - 1] as number) + 1 };
    k -= r.total;
  }
  return from;
}
