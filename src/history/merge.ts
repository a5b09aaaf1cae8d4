// The history merge (pure): archived segments + the unsealed tails of live files -> one ordered list
// of pieces with boot boundaries, and the arithmetic to pick a boot, a time window or a tail from
// it without reading content (sidecars and live scans give byte, line and marker positions).
import type { BootMark } from '../store/markers.js';
import type { SegmentMeta } from '../store/segments.js';
import { segmentSortKey } from '../store/layout.js';

export { segmentSortKey } from '../store/layout.js';

export type PieceSource =
  | { kind: 'segment'; key: string; compressed: boolean }
  | { kind: 'live'; path: string; dev: number; ino: number };

/** A byte range of one source's plain content with what the merge knows of it without reading it. */
interface Span {
  host: string;
  device: string;
  /** Byte range of the source's plain content. */
  start: number;
  end: number;
  /** Newlines in [start, end), marker lines included. */
  lines: number;
  /** Boot boundaries at offsets in [start, end) (source coordinates). */
  boots: BootMark[];
  firstTime: string;
  lastTime: string;
}

export interface Piece extends Span {
  source: PieceSource;
  /** Sorts in history order (segment key; live tails after every segment of their generation). */
  sortKey: string;
}

/** The unsealed range of a live file; its boots include an implicit boundary at `start` for a rewritten file. */
export interface LiveTail extends Span {
  generation: number;
  path: string;
  dev: number;
  ino: number;
  /** Index in the rotation set, oldest first. */
  order: number;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

export function liveSortKey(generation: number, host: string, order: number): string {
  return `${pad(generation, 6)}-99999999-${host}-${pad(order, 4)}`;
}

/** What the merge needs of a segment: its sidecar's (or archive index entry's) reading fields. */
export type MergedSegment = Pick<
  SegmentMeta,
  'key' | 'host' | 'device' | 'plainBytes' | 'lines' | 'boots' | 'firstTime' | 'lastTime' | 'orderGeneration'
> & { compressed?: boolean };

/** Boot marks in offset order; a list that already is in order is shared, not copied (one per segment). */
function byOffset(boots: readonly BootMark[]): BootMark[] {
  for (let i = 1; i < boots.length; i++)
    if ((boots[i] as BootMark).offset < (boots[i - 1] as BootMark).offset)
      return [...boots].sort((a, b) => a.offset - b.offset);
  return boots as BootMark[];
}

/** Orders segments and live tails of one device into pieces (empty ranges dropped). */
export function mergeHistory(
  segments: readonly MergedSegment[],
  live: readonly LiveTail[],
  device: string,
): Piece[] {
  const pieces: Piece[] = [];
  for (const s of segments) {
    if (s.device !== device || s.plainBytes <= 0) continue;
    pieces.push({
      source: { kind: 'segment', key: s.key, compressed: Boolean(s.compressed) },
      host: s.host,
      device: s.device,
      sortKey: segmentSortKey(s),
      start: 0,
      end: s.plainBytes,
      lines: s.lines,
      boots: byOffset(s.boots),
      firstTime: s.firstTime,
      lastTime: s.lastTime,
    });
  }
  for (const l of live) {
    if (l.device !== device || l.end <= l.start) continue;
    pieces.push({
      source: { kind: 'live', path: l.path, dev: l.dev, ino: l.ino },
      host: l.host,
      device: l.device,
      sortKey: liveSortKey(l.generation, l.host, l.order),
      start: l.start,
      end: l.end,
      lines: l.lines,
      boots: byOffset(l.boots),
      firstTime: l.firstTime,
      lastTime: l.lastTime,
    });
  }
  pieces.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  return pieces;
}

/** A position in the merged history: piece index and byte offset in that piece's source. */
export interface Position {
  piece: number;
  offset: number;
}

export interface Boot {
  /** 1 = oldest (journalctl's positive numbering). */
  index: number;
  id: string;
  host: string;
  at: string;
  /** True when no marker or record names this boot (output from before the plugin). */
  implicit: boolean;
  from: Position;
  /** Exclusive end: the next boot's start, or the end of history. */
  to: Position;
  /** Raw guest bytes (markers excluded) and time of the last piece touching it. */
  bytes: number;
  lastTime: string;
}

export function endOf(pieces: readonly Piece[]): Position {
  const last = pieces.length - 1;
  return last < 0 ? { piece: 0, offset: 0 } : { piece: last, offset: (pieces[last] as Piece).end };
}

export function startOf(pieces: readonly Piece[]): Position {
  return { piece: 0, offset: pieces[0]?.start ?? 0 };
}

export function comparePos(a: Position, b: Position): number {
  return a.piece - b.piece || a.offset - b.offset;
}

/** Raw guest bytes in [from, to): the byte count minus the marker lines inside. */
export function rawBytesBetween(pieces: readonly Piece[], from: Position, to: Position): number {
  let n = 0;
  for (let i = from.piece; i <= to.piece && i < pieces.length; i++) {
    const p = pieces[i] as Piece;
    const a = i === from.piece ? from.offset : p.start;
    const b = i === to.piece ? to.offset : p.end;
    if (b <= a) continue;
    n += b - a;
    for (const m of p.boots)
      if (m.markerBytes && m.offset >= a && m.offset < b) n -= Math.min(m.markerBytes, b - m.offset);
  }
  return n;
}

/** The boots of a history, oldest first. Output before the first known boot is an implicit boot. */
export function listBoots(pieces: readonly Piece[]): Boot[] {
  const boots: Boot[] = [];
  const end = endOf(pieces);
  pieces.forEach((p, i) => {
    for (const m of p.boots) {
      boots.push({
        index: 0,
        id: m.id,
        host: m.host,
        at: m.at,
        implicit: false,
        from: { piece: i, offset: m.offset },
        to: end,
        bytes: 0,
        lastTime: p.lastTime,
      });
    }
  });
  const first = pieces[0];
  if (first && (!boots[0] || comparePos(boots[0].from, startOf(pieces)) > 0)) {
    boots.unshift({
      index: 0,
      id: '-',
      host: first.host,
      at: first.firstTime,
      implicit: true,
      from: startOf(pieces),
      to: end,
      bytes: 0,
      lastTime: first.lastTime,
    });
  }
  boots.forEach((b, i) => {
    b.index = i + 1;
    const next = boots[i + 1];
    if (next) b.to = next.from;
    b.bytes = rawBytesBetween(pieces, b.from, b.to);
    const lastPiece =
      b.to.offset === (pieces[b.to.piece]?.start ?? -1) && b.to.piece > b.from.piece
        ? b.to.piece - 1
        : b.to.piece;
    b.lastTime = pieces[Math.min(lastPiece, pieces.length - 1)]?.lastTime ?? b.at;
  });
  return boots;
}

/**
 * journalctl's -b argument: 0 or absent = newest, -1 the one before, ...; positive N = the N-th
 * from the oldest; anything else is a boot id (or a unique prefix of one).
 */
export function pickBoot(boots: readonly Boot[], arg: string | undefined): Boot | undefined {
  if (arg === undefined || arg === '') return boots.at(-1);
  if (/^-?\d+$/.test(arg)) {
    const n = Number(arg);
    return n <= 0 ? boots[boots.length - 1 + n] : boots[n - 1];
  }
  const hits = boots.filter((b) => b.id === arg || b.id.startsWith(arg));
  return hits.length === 1 ? hits[0] : boots.find((b) => b.id === arg);
}

/** Boots whose time span [at, lastTime] overlaps [since, until] (resolution: a boot). */
export function bootsInWindow(boots: readonly Boot[], since?: Date, until?: Date): Boot[] {
  return boots.filter(
    (b) =>
      (!since || Date.parse(b.lastTime) >= since.getTime()) &&
      (!until || Date.parse(b.at) <= until.getTime()),
  );
}

/**
 * Where the last `n` raw bytes before `to` begin (not before `from`), by arithmetic only. Marker
 * lines do not count; the result never points inside a marker line.
 */
export function tailBytesStart(pieces: readonly Piece[], n: number, from: Position, to: Position): Position {
  let left = n;
  for (let i = to.piece; i >= from.piece && i >= 0; i--) {
    const p = pieces[i] as Piece;
    const lo = i === from.piece ? from.offset : p.start;
    let hi = i === to.piece ? to.offset : p.end;
    const marks = p.boots
      .filter((m) => m.markerBytes && m.offset < hi && m.offset >= lo)
      .sort((a, b) => b.offset - a.offset);
    // Walk the runs of guest bytes between marker lines, newest first.
    for (const m of [...marks, undefined]) {
      const runStart = m ? Math.min(m.offset + m.markerBytes, hi) : lo;
      const run = hi - runStart;
      if (run >= left) return { piece: i, offset: hi - left };
      left -= run;
      if (m) hi = m.offset;
    }
    if (left === 0) return { piece: i, offset: lo };
  }
  return from;
}
