// Archived segments: `archive/<key>.seg[.gz]` + `archive/<key>.json` (sidecar). Listing, publishing
// and deleting them; streaming their content (read, import, compress) is in segment-content.ts.
// Visibility rule: the sidecar is written (atomically) first, the segment is renamed into place
// last; a sidecar without its segment, and any `.tmp-*` file, is an orphan of a crash and removed
// under the lock. Content never changes once visible (compression writes `.seg.gz` whole, then
// removes `.seg`), so readers need no lock for content.
// The archive index (archive-index.ts) caches the sidecar fields readers need: appended at each
// publish, rewritten from the sidecars by retention; readers trust it only for the keys readdir shows.
// Long: listing, publishing and deleting segments must apply one visibility rule together.
import * as fs from 'node:fs';
import { createHash } from '../util/crypto.js';
import { gunzipSync } from 'node:zlib';
import type { Config } from '../config/schema.js';
import {
  indexEntry,
  indexLine,
  indexNeedsRewrite,
  indexText,
  INDEX_HEADER,
  mentionsKey,
  parseIndex,
  type IndexEntry,
} from './archive-index.js';
import {
  ARCHIVE_NAME,
  classifyArchiveEntry,
  INDEX_NAME,
  domainUuid,
  isSegmentKey,
  parseSegmentKey,
  segmentFileNames,
  segmentKey,
} from './layout.js';
import { SafeDir } from './safe-fs.js';
import { isSegmentMeta } from './sidecar.js';
import type { SegmentMeta } from './types.js';

export type { SegmentMeta } from './types.js';

const C = fs.constants;

export interface SegmentInfo extends SegmentMeta {
  /** File name inside archive/ holding the content. */
  file: string;
  compressed: boolean;
  /** Bytes on disk (compressed size for .gz). */
  storedBytes: number;
  /** Bytes of the sidecar on disk. */
  sidecarBytes: number;
}

/** Opens <log_root>/<uuid>/archive (creating it if asked); undefined if it does not exist. */
export function openArchive(config: Config, uuid: string, create = false): SafeDir | undefined {
  try {
    if (create) SafeDir.openRoot(config.logRoot, true).close();
    return SafeDir.openBeneath(config.logRoot, [domainUuid(uuid), ARCHIVE_NAME], create, 0o750);
  } catch (e) {
    if (!create && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function parseMeta(text: string | undefined, key: string): SegmentMeta | undefined {
  if (text === undefined) return undefined;
  try {
    const m: unknown = JSON.parse(text);
    return isSegmentMeta(m, key) ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Metadata of a segment whose sidecar is unreadable, from its key and content. The archive index's
 * line for the key, when it agrees with the content (bytes, lines), gives back device, times and
 * boots: a truncating source's boot boundary is recorded nowhere else. Without one, boots are left
 * out (a marker counts only when the domain's state knows its id) and the device is the one of the
 * host's previous segment (else serial0). Undefined if the content cannot be read either.
 */
function rebuildMeta(
  archive: SafeDir,
  key: string,
  file: string,
  gz: boolean,
  st: fs.Stats,
  device = 'serial0',
  indexed?: IndexEntry,
): SegmentMeta | undefined {
  const k = parseSegmentKey(key);
  if (!k) return undefined;
  const content = readContent(archive, file, gz);
  if (!content) return undefined;
  let lines = 0;
  for (let i = content.indexOf(10); i >= 0; i = content.indexOf(10, i + 1)) lines++;
  const time = st.mtime.toISOString();
  const meta: SegmentMeta = {
    version: 1,
    key,
    host: k.host,
    generation: k.generation,
    seq: k.seq,
    device,
    reason: 'recovered',
    origin: { host: k.host, path: '', dev: 0, ino: 0, start: 0, end: content.length },
    plainBytes: content.length,
    lines,
    firstTime: time,
    lastTime: time,
    sha256: createHash('sha256').update(content).digest('hex'),
    boots: [],
    sealedAt: time,
  };
  const agrees =
    indexed &&
    indexed.host === k.host &&
    indexed.plainBytes === content.length &&
    indexed.lines === lines &&
    indexed.boots.every((b) => b.offset + b.markerBytes <= content.length);
  if (!agrees) return meta;
  const { device: d, firstTime, lastTime, boots, orderGeneration } = indexEntry(indexed);
  return {
    ...meta,
    device: d,
    firstTime,
    lastTime,
    boots,
    ...(orderGeneration !== undefined ? { orderGeneration } : {}),
  };
}

/** A segment file's whole content, gunzipped; undefined if it cannot be read. */
function readContent(archive: SafeDir, file: string, gz: boolean): Buffer | undefined {
  try {
    const fd = archive.open(file, C.O_RDONLY);
    let content: Buffer;
    try {
      content = fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return gz ? gunzipSync(content) : content;
  } catch {
    return undefined;
  }
}

/** A segment's whole content (plain, else gzip), for the rare paths that compare it; undefined if unreadable. */
export function readSegmentContent(archive: SafeDir, key: string): Buffer | undefined {
  const names = segmentFileNames(key);
  return archive.lstat(names.plain)?.isFile()
    ? readContent(archive, names.plain, false)
    : readContent(archive, names.gz, true);
}

/** Entries of one key in a listing (bits; shifted by 3: that entry is a regular file). */
const PLAIN = 1;
const GZ = 2;
const SIDECAR = 4;

/** A visible segment: a sidecar and a regular content file (plain wins while both exist). */
interface VisibleSegment {
  key: string;
  file: string;
  compressed: boolean;
}

/** The visible segments of one archive listing, in history (key) order. */
function visibleSegments(archive: SafeDir): VisibleSegment[] {
  // Per key, a bit per entry seen and per entry that is a regular file. Suffixes are matched here
  // and each key checked once below, without an object per key: this runs over every entry of
  // every read, and what a read allocates here it pays for in scavenges.
  const files = new Map<string, number>();
  for (const entry of archive.listTyped()) {
    const name = entry.name;
    const kind = name.endsWith('.seg')
      ? PLAIN
      : name.endsWith('.seg.gz')
        ? GZ
        : name.endsWith('.json')
          ? SIDECAR
          : 0;
    if (!kind || name.startsWith('.tmp-')) continue;
    const key = name.slice(0, name.length - (kind === PLAIN ? 4 : kind === GZ ? 7 : 5));
    files.set(key, (files.get(key) ?? 0) | kind | (entry.isFile() ? kind << 3 : 0));
  }
  const out: VisibleSegment[] = [];
  for (const key of [...files.keys()].sort()) {
    const seen = files.get(key) ?? 0;
    if (!(seen & SIDECAR) || !(seen & (PLAIN | GZ))) continue;
    // Both exist only between compression's rename and its unlink: the plain one is complete too.
    const plain = (seen & PLAIN) !== 0;
    if (!(seen & ((plain ? PLAIN : GZ) << 3)) || !isSegmentKey(key)) continue;
    out.push({ key, file: plain ? `${key}.seg` : `${key}.seg.gz`, compressed: !plain });
  }
  return out;
}

/** The device of the host's latest segment listed so far (a rebuilt sidecar's best guess). */
function previousDevice(
  listed: readonly { host: string; device: string }[],
  key: string,
): string | undefined {
  const host = parseSegmentKey(key)?.host;
  for (let i = listed.length - 1; i >= 0; i--) if (listed[i]?.host === host) return listed[i]?.device;
  return undefined;
}

/** A segment's sidecar, or metadata rebuilt from its content when the sidecar does not parse. */
function sidecarMeta(
  archive: SafeDir,
  v: VisibleSegment,
  listed: readonly { host: string; device: string }[],
  st?: fs.Stats,
  indexed?: (key: string) => IndexEntry | undefined,
): SegmentMeta | undefined {
  // A sidecar that does not parse (disk corruption, a hand edit) must not hide sealed content.
  const meta = parseMeta(archive.readText(segmentFileNames(v.key).sidecar), v.key);
  if (meta) return meta;
  const stat = st ?? archive.lstat(v.file);
  if (!stat?.isFile()) return undefined;
  const device = previousDevice(listed, v.key);
  return rebuildMeta(archive, v.key, v.file, v.compressed, stat, device, indexed?.(v.key));
}

/** Lists the visible segments of an opened archive, in history (key) order, from their sidecars. */
export function listArchive(archive: SafeDir): SegmentInfo[] {
  const out: SegmentInfo[] = [];
  // Read only when a sidecar is unreadable: its index line is then the best record left.
  let index: Map<string, IndexEntry> | undefined;
  const indexed = (key: string) => (index ??= parseIndex(readIndexText(archive)).entries).get(key);
  for (const v of visibleSegments(archive)) {
    const st = archive.lstat(v.file);
    if (!st?.isFile()) continue;
    const meta = sidecarMeta(archive, v, out, st, indexed);
    if (!meta) continue;
    out.push({
      ...meta,
      file: v.file,
      compressed: v.compressed,
      storedBytes: st.size,
      sidecarBytes: archive.lstat(segmentFileNames(v.key).sidecar)?.size ?? 0,
    });
  }
  return out;
}

/** A visible segment as a reader lists it: its index entry (or sidecar fields) and its content form. */
export interface ListedSegment extends IndexEntry {
  file: string;
  compressed: boolean;
}

/** The index file's text; undefined when missing or unusable (readers never fail on the cache). */
function readIndexText(archive: SafeDir): string | undefined {
  try {
    return archive.readText(INDEX_NAME);
  } catch {
    return undefined;
  }
}

/**
 * For readers: the visible segments (one readdir), each from the archive index when it has the
 * key, else from its sidecar. An index entry whose segment the listing does not show is ignored:
 * a stale, torn or missing index costs sidecar reads, never a hidden or invented segment.
 */
export function listArchiveForReading(archive: SafeDir): { segments: ListedSegment[]; sidecarsRead: number } {
  const index = parseIndex(readIndexText(archive));
  const segments: ListedSegment[] = [];
  let sidecarsRead = 0;
  for (const v of visibleSegments(archive)) {
    let e = index.entries.get(v.key);
    if (!e) {
      sidecarsRead++;
      const meta = sidecarMeta(archive, v, segments);
      if (!meta) continue;
      e = indexEntry(meta);
    }
    // Field by field, not a spread: this runs for every segment of every read.
    segments.push({
      key: v.key,
      host: e.host,
      generation: e.generation,
      seq: e.seq,
      device: e.device,
      plainBytes: e.plainBytes,
      lines: e.lines,
      firstTime: e.firstTime,
      lastTime: e.lastTime,
      boots: e.boots,
      ...(e.orderGeneration !== undefined ? { orderGeneration: e.orderGeneration } : {}),
      file: v.file,
      compressed: v.compressed,
    });
  }
  return { segments, sidecarsRead };
}

/** The full sidecars of some listed keys (watermark replay needs fields the index does not keep). */
export function readSidecars(archive: SafeDir, keys: readonly string[]): SegmentMeta[] {
  const out: SegmentMeta[] = [];
  for (const key of keys) {
    const m = parseMeta(archive.readText(segmentFileNames(key).sidecar), key);
    if (m) out.push(m);
  }
  return out;
}

/**
 * A domain's archived segments with their sidecar metadata, oldest first (for the reader, retention
 * and migration: a peer lists these to decide what to fetch). Empty if the domain has no archive.
 */
export function listSegments(config: Config, uuid: string): SegmentInfo[] {
  const archive = openArchive(config, uuid);
  if (!archive) return [];
  try {
    return listArchive(archive);
  } finally {
    archive.close();
  }
}

/** Opens a segment's file read-only: the plain one, else the gzip one it was compressed into. */
export function openSegmentFile(archive: SafeDir, key: string): { fd: number; gz: boolean } {
  const names = segmentFileNames(key);
  try {
    return { fd: archive.open(names.plain, C.O_RDONLY), gz: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return { fd: archive.open(names.gz, C.O_RDONLY), gz: true };
  }
}

/** Removes crash leftovers: temp files, and sidecars whose segment never became visible. Call under the lock. */
export function cleanArchive(archive: SafeDir): string[] {
  const removed: string[] = [];
  const entries = archive.list();
  const segs = new Set<string>();
  for (const name of entries) {
    const c = classifyArchiveEntry(name);
    if (c.kind === 'plain' || c.kind === 'gz') segs.add(c.key);
  }
  for (const name of entries) {
    const c = classifyArchiveEntry(name);
    if (c.kind === 'temp' || (c.kind === 'sidecar' && !segs.has(c.key))) {
      if (archive.unlink(name)) removed.push(name);
    }
  }
  if (removed.length) archive.fsync();
  return removed;
}

/** Test hook: throw at a named step of a segment write, to simulate a kill -9 there. */
export let failpoint: string | undefined;
export function setFailpoint(name: string | undefined): void {
  failpoint = name;
}
function maybeFail(step: string): void {
  if (failpoint === step) throw new Error(`failpoint ${step}`);
}

/**
 * Publishes a segment whose content is already complete and fsynced in temp file `tempName`:
 * sidecar first, then the rename that makes it visible, then its index line. Call under the lock.
 */
export function publishSegment(
  archive: SafeDir,
  tempName: string,
  meta: SegmentMeta,
  mode: number,
  compressed = false,
): void {
  const names = segmentFileNames(meta.key);
  forgetInIndex(archive, meta.key, mode);
  maybeFail('before-sidecar');
  archive.writeAtomic(names.sidecar, JSON.stringify(meta) + '\n', mode);
  maybeFail('before-segment-rename');
  archive.rename(tempName, compressed ? names.gz : names.plain);
  archive.fsync();
  maybeFail('after-segment-rename');
  appendToIndex(archive, meta, mode);
}

/** Up to `len` bytes of an open file at `pos`. */
function pread(fd: number, len: number, pos: number): Buffer {
  const buf = Buffer.alloc(len);
  return buf.subarray(0, fs.readSync(fd, buf, 0, len, pos));
}

/**
 * Adds a just-published segment to the index. Best effort, no fsync: a line lost or torn is a
 * cache miss, and a failure here must not turn a completed seal into a failed one.
 */
function appendToIndex(archive: SafeDir, entry: IndexEntry | SegmentMeta, mode: number): void {
  try {
    const line = indexLine(entry);
    const head = INDEX_HEADER + '\n';
    const fd = archive.open(INDEX_NAME, C.O_RDWR | C.O_APPEND | C.O_CREAT, mode);
    let rewrite = false;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) return;
      if (st.size === 0) fs.writeSync(fd, head + line);
      else if (st.size < head.length || pread(fd, head.length, 0).toString() !== head) rewrite = true;
      // After a torn append the file does not end in a newline: end that line first.
      else fs.writeSync(fd, (pread(fd, 1, st.size - 1)[0] === 10 ? '' : '\n') + line);
    } finally {
      fs.closeSync(fd);
    }
    // Another format or a torn header: start over with what is known to be right.
    if (rewrite) archive.writeAtomic(INDEX_NAME, head + line, mode);
  } catch {
    // The index is a cache: readers read this segment's sidecar until retention rewrites it.
  }
}

/**
 * Before a sidecar of `key` is written: a line a deleted segment of the same key left in the index
 * is removed, durably, so the index can never describe the new segment with the old one's fields.
 */
function forgetInIndex(archive: SafeDir, key: string | readonly string[], mode: number): void {
  const keys = typeof key === 'string' ? [key] : key;
  const text = readIndexText(archive);
  if (text === undefined || !keys.some((k) => mentionsKey(text, k))) return;
  const index = parseIndex(text);
  for (const k of keys) index.entries.delete(k);
  try {
    archive.writeAtomic(INDEX_NAME, indexText([...index.entries.values()]), mode);
  } catch (e) {
    // No room to rewrite it: without an index readers read sidecars, which is always right.
    if (!archive.unlink(INDEX_NAME) && readIndexText(archive) !== undefined) throw e;
    archive.fsync();
  }
}

/**
 * Sets the generation segments sort at (`orderGeneration`) in their sidecars; content and keys stay.
 * Their index lines go first (durably), then each sidecar is replaced atomically, then the new
 * lines are appended: after a crash a reader finds each sidecar old or new, never a stale line.
 * A segment whose sidecar is unreadable keeps its key order. Returns the keys changed. Call under the lock.
 */
export function setOrderGenerations(
  archive: SafeDir,
  changes: readonly { key: string; orderGeneration: number }[],
  mode: number,
): string[] {
  const metas: SegmentMeta[] = [];
  for (const c of changes) {
    const m = parseMeta(archive.readText(segmentFileNames(c.key).sidecar), c.key);
    if (m && m.orderGeneration !== c.orderGeneration)
      metas.push({ ...m, orderGeneration: c.orderGeneration });
  }
  if (!metas.length) return [];
  forgetInIndex(
    archive,
    metas.map((m) => m.key),
    mode,
  );
  for (const m of metas) archive.writeAtomic(segmentFileNames(m.key).sidecar, JSON.stringify(m) + '\n', mode);
  for (const m of metas) appendToIndex(archive, m, mode);
  return metas.map((m) => m.key);
}

/**
 * Under the lock, with the sidecars of every visible segment at hand (retention lists them): rewrites
 * the index when it is missing, lacks or contradicts a segment, or is bloated by deleted ones.
 * Returns whether it wrote. Best effort like every index write.
 */
export function refreshIndex(archive: SafeDir, segments: readonly SegmentMeta[], mode: number): boolean {
  try {
    if (!indexNeedsRewrite(readIndexText(archive), segments)) return false;
    archive.writeAtomic(INDEX_NAME, indexText(segments), mode);
    return true;
  } catch {
    return false;
  }
}

/** Key for a new segment of this store. */
export function newKey(generation: number, seq: number, host: string): string {
  return segmentKey(generation, seq, host);
}

/**
 * Deletes a segment: content first (it stops being visible), then its sidecar. Call under the lock.
 * Its index line stays until retention rewrites the index: readers skip keys readdir does not show.
 */
export function deleteSegment(archive: SafeDir, key: string): void {
  const names = segmentFileNames(key);
  archive.unlink(names.plain);
  archive.unlink(names.gz);
  archive.unlink(names.sidecar);
}
