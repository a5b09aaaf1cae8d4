// The archive index (`archive/index.jsonl`, pure part): the sidecar fields a reader needs, one line
// per segment, so listing a domain's history costs one readdir and one file read instead of one
// read per sidecar. A cache, never the truth: readers take only entries whose segment the readdir
// shows, read the sidecar of every key the index lacks, and writers check it against the sidecars
// at each retention pass. Appended to without fsync: a torn or lost line is only a cache miss.
import { isKeyOf } from './layout.js';
import type { BootMark } from './markers.js';
import type { SegmentMeta } from './types.js';

/** First line of the file: another first line (another format, a torn write) means no index. */
export const INDEX_HEADER = '{"virt-consolelog":"archive index","version":1}';

/** What a reader needs of one segment (a subset of its sidecar). */
export interface IndexEntry {
  key: string;
  host: string;
  generation: number;
  seq: number;
  device: string;
  plainBytes: number;
  lines: number;
  firstTime: string;
  lastTime: string;
  boots: BootMark[];
  /** The sidecar's `orderGeneration` (only when it has one: older lines stay as they were). */
  orderGeneration?: number;
}

/** The index entry of a sidecar (its other fields left out), fields in a fixed order. */
export function indexEntry(m: IndexEntry | SegmentMeta): IndexEntry {
  return {
    key: m.key,
    host: m.host,
    generation: m.generation,
    seq: m.seq,
    device: m.device,
    plainBytes: m.plainBytes,
    lines: m.lines,
    firstTime: m.firstTime,
    lastTime: m.lastTime,
    boots: m.boots.map((b) => ({
      offset: b.offset,
      id: b.id,
      host: b.host,
      at: b.at,
      markerBytes: b.markerBytes,
    })),
    ...(m.orderGeneration !== undefined ? { orderGeneration: m.orderGeneration } : {}),
  };
}

/** One line: only the entry's fields, in a fixed order, so equal entries have equal lines. */
export function indexLine(e: IndexEntry | SegmentMeta): string {
  return JSON.stringify(indexEntry(e)) + '\n';
}

/** A whole index file: header, then one line per entry. */
export function indexText(entries: readonly IndexEntry[]): string {
  return INDEX_HEADER + '\n' + entries.map(indexLine).join('');
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isText = (v: unknown): v is string => typeof v === 'string';

function isBoot(v: unknown): v is BootMark {
  const b = v as BootMark;
  return !!b && isCount(b.offset) && isText(b.id) && isText(b.host) && isText(b.at) && isCount(b.markerBytes);
}

/** One parsed line, or undefined when it is not a well-formed entry (that key is then a cache miss). */
export function parseIndexLine(line: string): IndexEntry | undefined {
  let v: IndexEntry;
  try {
    v = JSON.parse(line) as IndexEntry;
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object' || !isText(v.key)) return undefined;
  const ok =
    isKeyOf(v.key, v.generation, v.seq) &&
    isText(v.host) &&
    isText(v.device) &&
    isCount(v.plainBytes) &&
    isCount(v.lines) &&
    isText(v.firstTime) &&
    isText(v.lastTime) &&
    Array.isArray(v.boots) &&
    v.boots.every(isBoot) &&
    (v.orderGeneration === undefined || isCount(v.orderGeneration));
  // Returned as parsed (extra fields are harmless; indexLine() writes only the known ones).
  return ok ? v : undefined;
}

export interface ParsedIndex {
  /** By key; a key listed twice keeps its last line. */
  entries: Map<string, IndexEntry>;
  /** Complete lines after the header, good or not (to judge when a rewrite pays). */
  lines: number;
  /** False when there is no file or its first line is not the header: every key is a miss. */
  valid: boolean;
}

/** Parses an index file. A last line without its newline is a write in progress or torn: skipped. */
export function parseIndex(text: string | undefined): ParsedIndex {
  const entries = new Map<string, IndexEntry>();
  if (text === undefined || !text.startsWith(INDEX_HEADER + '\n')) return { entries, lines: 0, valid: false };
  let lines = 0;
  let pos = INDEX_HEADER.length + 1;
  for (let nl = text.indexOf('\n', pos); nl >= 0; pos = nl + 1, nl = text.indexOf('\n', pos)) {
    lines++;
    const e = parseIndexLine(text.slice(pos, nl));
    if (e) entries.set(e.key, e);
  }
  return { entries, lines, valid: true };
}

/** The last line of each key, as written, without parsing (entry lines start with their key). */
function rawLines(text: string): { lines: Map<string, string>; count: number } {
  const lines = new Map<string, string>();
  let count = 0;
  const prefix = '{"key":"';
  let pos = text.indexOf('\n') + 1;
  for (let nl = text.indexOf('\n', pos); nl >= 0; pos = nl + 1, nl = text.indexOf('\n', pos)) {
    count++;
    if (!text.startsWith(prefix, pos)) continue;
    const end = text.indexOf('"', pos + prefix.length);
    if (end > 0 && end < nl) lines.set(text.slice(pos + prefix.length, end), text.slice(pos, nl + 1));
  }
  return { lines, count };
}

/**
 * Whether an index file should be rewritten from `truth` (the sidecars of the visible segments):
 * it is missing or unreadable, lacks a segment, holds a line the sidecar contradicts, or carries
 * more lines of deleted segments than is worth reading past. Lines are compared as text.
 */
export function indexNeedsRewrite(
  text: string | undefined,
  truth: readonly (IndexEntry | SegmentMeta)[],
): boolean {
  if (text === undefined || !text.startsWith(INDEX_HEADER + '\n')) return true;
  const { lines, count } = rawLines(text);
  for (const t of truth) if (lines.get(t.key) !== indexLine(t)) return true;
  return count - truth.length > 16 + truth.length / 8;
}

/** The string an index file holds when it has (or had) a line for `key`: a cheap, safe over-approximation. */
export function mentionsKey(text: string, key: string): boolean {
  return text.includes(`"key":${JSON.stringify(key)}`);
}
