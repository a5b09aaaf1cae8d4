// Arrival times that travelled with fetched segments (pure): one line per imported segment in
// `imported-times.jsonl`, keyed by the segment's origin identity (origin host, origin key, sha256),
// offsets in its origin file's coordinates, so the reader times an imported segment as a local one.
import { pickRun, timedKey, type TimePoint } from './times.js';

/** Imported points of every origin host (a name no `times-<host>.jsonl` can take). */
export const IMPORTED_TIMES_FILE = 'imported-times.jsonl';

/** Earliest time a peer's point may carry (2000-01-01): older is a broken clock or garbage. */
const MIN_TIME = 946_684_800_000;
/** How far past our clock a peer's point may be (clocks of two hosts differ a little). */
const MAX_AHEAD_MS = 24 * 3600 * 1000;

/** What a segment is across stores: the host that sealed it, its key there, its content hash. */
export interface SegmentIdentity {
  host: string;
  key: string;
  sha256: string;
}

export const identityKey = (id: SegmentIdentity): string => `${id.host}\0${id.key}\0${id.sha256}`;

/** The sidecar fields that time a segment (SegmentMeta's, plus an import's trimmedFrom). */
export interface TimedSegment {
  key: string;
  host: string;
  sha256: string;
  sealedAt: string;
  origin: { host: string; dev: number; ino: number; start: number };
  watermark?: { birthtimeMs: number } | undefined;
  importedFrom?: { host: string; key: string } | undefined;
  trimmedFrom?: unknown;
}

/** The origin identity of a segment; an import cut short (trimmedFrom) keeps its original hash. */
export function identityOf(
  s: Pick<TimedSegment, 'key' | 'host' | 'sha256' | 'importedFrom' | 'trimmedFrom'>,
): SegmentIdentity {
  const t = s.trimmedFrom as { sha256?: unknown } | undefined;
  return {
    host: s.importedFrom?.host ?? s.host,
    key: s.importedFrom?.key ?? s.key,
    sha256: typeof t?.sha256 === 'string' ? t.sha256 : s.sha256,
  };
}

/** One line of the imported times file. */
export function importedLine(id: SegmentIdentity, points: readonly TimePoint[]): string {
  return JSON.stringify({ ...id, points: points.map((p) => [p.offset, p.time]) }) + '\n';
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parseImportedLine(line: string): { id: SegmentIdentity; points: TimePoint[] } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.host !== 'string' || typeof o.key !== 'string' || typeof o.sha256 !== 'string')
    return undefined;
  if (!Array.isArray(o.points)) return undefined;
  const points: TimePoint[] = [];
  for (const p of o.points as unknown[]) {
    if (!Array.isArray(p) || p.length !== 2 || !isCount(p[0]) || !isCount(p[1])) return undefined;
    if (points.length && p[0] <= (points[points.length - 1] as TimePoint).offset) return undefined;
    points.push({ offset: p[0], time: p[1] });
  }
  return { id: { host: o.host, key: o.key, sha256: o.sha256 }, points };
}

/** The imported points per segment identity; torn or foreign lines are skipped, the first line of an identity wins. */
export function parseImported(text: string): Map<string, TimePoint[]> {
  const out = new Map<string, TimePoint[]>();
  for (const line of text.split('\n')) {
    const e = line === '' ? undefined : parseImportedLine(line);
    if (e && !out.has(identityKey(e.id))) out.set(identityKey(e.id), e.points);
  }
  return out;
}

/** The imported times file without entries of segments `keep` rejects (deleted); undefined when nothing would go. */
export function compactImported(text: string, keep: (identity: string) => boolean): string | undefined {
  let out = '';
  let dropped = false;
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const e = parseImportedLine(line);
    const k = e && identityKey(e.id);
    if (k !== undefined && keep(k) && !seen.has(k)) {
      out += line + '\n';
      seen.add(k);
    } else dropped = true;
  }
  return dropped ? out : undefined;
}

/**
 * The run of points that times a segment, and the origin offset its byte 0 sits at: a local seal's
 * from its host's times file (by origin file and seal time), an import's from the imported file.
 */
export function segmentRun(
  s: TimedSegment,
  localRuns: (host: string) => Map<string, TimePoint[][]>,
  imported: () => Map<string, TimePoint[]>,
): { run: TimePoint[] | undefined; base: number } {
  const base = s.origin.start;
  if (s.importedFrom) return { run: imported().get(identityKey(identityOf(s))), base };
  if (!s.watermark) return { run: undefined, base };
  const runs = localRuns(s.origin.host).get(
    timedKey({ host: s.origin.host, dev: s.origin.dev, ino: s.origin.ino, birth: s.watermark.birthtimeMs }),
  );
  return { run: pickRun(runs, Date.parse(s.sealedAt) || Date.now()), base };
}

/**
 * The points that time bytes [0, bytes) of a segment whose byte 0 is origin offset `base`, in
 * segment offsets: those inside it, and the first one past its end moved to its end (a line
 * ending there got that point's time).
 */
export function pointsOfSegment(
  run: readonly TimePoint[] | undefined,
  base: number,
  bytes: number,
): TimePoint[] {
  const out: TimePoint[] = [];
  for (const p of run ?? []) {
    const rel = p.offset - base;
    if (rel <= 0) continue;
    out.push({ offset: Math.min(rel, bytes), time: p.time });
    if (rel >= bytes) break;
  }
  return out;
}

/**
 * A peer's points for a segment of `bytes` bytes, checked one by one (a peer is not trusted): pairs
 * of integers, offsets inside the segment and rising, times from 2000 to a day past `now`. Returns
 * the points kept and how many were dropped.
 */
export function checkPeerPoints(
  raw: unknown,
  bytes: number,
  now: number,
): { points: TimePoint[]; dropped: number } {
  if (!Array.isArray(raw)) return { points: [], dropped: 1 };
  const points: TimePoint[] = [];
  let dropped = 0;
  for (const p of raw as unknown[]) {
    const ok =
      Array.isArray(p) &&
      p.length === 2 &&
      isCount(p[0]) &&
      isCount(p[1]) &&
      p[0] > 0 &&
      p[0] <= bytes &&
      p[1] >= MIN_TIME &&
      p[1] <= now + MAX_AHEAD_MS &&
      (!points.length || p[0] > (points[points.length - 1] as TimePoint).offset);
    if (ok) points.push({ offset: p[0] as number, time: p[1] as number });
    else dropped++;
  }
  return { points, dropped };
}
