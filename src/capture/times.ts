// The arrival-time index (pure): sparse (offset -> time) points per origin file, written by the
// capture service as a file grows, read back to put a time on every line. A line's time is that of
// the first point at or past its end: the service saw the line complete no later than that.
import { fileKey } from './decide.js';

/** Points closer together than this are merged: one point per half second bounds the error. */
export const POINT_GAP_MS = 500;

/** One point: bytes [0, offset) of the file had arrived at `time` (ms since the epoch). */
export interface TimePoint {
  offset: number;
  time: number;
}

/** Identity of an origin file in the index: host, dev, inode, birth time (0 where unknown). */
export interface TimedFile {
  host: string;
  dev: number;
  ino: number;
  birth: number;
}

export const timedKey = (f: TimedFile): string => `${f.host}/${f.dev}/${f.ino}/${f.birth}`;

/**
 * Whether the newest observation of a file (`pending`: its size when last seen growing, and when)
 * becomes a point now: at least POINT_GAP_MS after the file's last point, or at once when the file
 * shrank (a new file under a reused inode starts a new run). Until then later growth replaces it,
 * so a line is stamped at most POINT_GAP_MS (plus the service's reaction time) after it arrived.
 */
export function pointDue(last: TimePoint | undefined, pending: TimePoint | undefined, now: number): boolean {
  return now >= pointDueAt(last, pending);
}

/** The time from which pointDue is true for this observation: -Infinity at once, Infinity never (until it changes). */
export function pointDueAt(last: TimePoint | undefined, pending: TimePoint | undefined): number {
  if (!pending) return Infinity;
  if (!last || pending.offset < last.offset) return -Infinity;
  return pending.offset > last.offset ? last.time + POINT_GAP_MS : Infinity;
}

/** One line of `times-<host>.jsonl`: [dev, ino, birth, offset, time]. */
export function pointLine(f: Omit<TimedFile, 'host'>, p: TimePoint): string {
  return `[${f.dev},${f.ino},${f.birth},${p.offset},${p.time}]\n`;
}

/** One line of a times file (pointLine's form): [dev, ino, birth, offset, time], else undefined. */
function parsePointLine(line: string): number[] | undefined {
  if (!line.startsWith('[') || !line.endsWith(']')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  return Array.isArray(v) && v.length === 5 && v.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
    ? (v as number[])
    : undefined;
}

/**
 * Parses a times file of `host` into runs per file: a run ends where offsets go down (the inode
 * was reused for a new file). Torn or foreign lines are skipped: the index is a cache of times.
 */
export function parseTimes(host: string, text: string): Map<string, TimePoint[][]> {
  const out = new Map<string, TimePoint[][]>();
  for (const line of text.split('\n')) {
    const point = parsePointLine(line);
    if (!point) continue;
    const [dev, ino, birth, offset, time] = point;
    const key = timedKey({ host, dev: dev!, ino: ino!, birth: birth! });
    const runs = out.get(key) ?? [];
    const run = runs[runs.length - 1];
    const last = run?.[run.length - 1];
    if (!run || !last || offset! < last.offset) runs.push([{ offset: offset!, time: time! }]);
    else if (offset! > last.offset) run.push({ offset: offset!, time: time! });
    out.set(key, runs);
  }
  return out;
}

/**
 * The run of points that describes the file content seen until `notAfter` (a segment's seal or a
 * live file's mtime): the newest run that began by then.
 */
export function pickRun(runs: readonly TimePoint[][] | undefined, notAfter: number): TimePoint[] | undefined {
  if (!runs?.length) return undefined;
  let best: TimePoint[] | undefined;
  for (const r of runs) if (r[0] && r[0].time <= notAfter + 1000) best = r;
  return best ?? runs[0];
}

/** The time of the byte ending at `end` (exclusive): the first point at or past it; undefined past the last. */
export function timeAt(run: readonly TimePoint[] | undefined, end: number): number | undefined {
  if (!run?.length) return undefined;
  let lo = 0;
  let hi = run.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((run[mid] as TimePoint).offset >= end) hi = mid;
    else lo = mid + 1;
  }
  return lo < run.length ? (run[lo] as TimePoint).time : undefined;
}

/** The time index a host's service writes in a domain's store folder. */
export function timesFileName(host: string): string {
  return `times-${host}.jsonl`;
}

/**
 * The times file without the points of origin files `keep` rejects (their segments were deleted
 * and they are no longer live); undefined when nothing would go. Lines that do not parse go too:
 * they never gave a time.
 */
export function compactTimes(text: string, keep: (originFile: string) => boolean): string | undefined {
  let out = '';
  let dropped = false;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const point = parsePointLine(line);
    if (point && keep(fileKey({ dev: point[0]!, ino: point[1]!, birth: point[2]! }))) out += line + '\n';
    else dropped = true;
  }
  return dropped ? out : undefined;
}
