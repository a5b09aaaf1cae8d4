// Archived segments: `archive/<key>.seg[.gz]` + `archive/<key>.json` (sidecar). Listing, publishing
// and deleting them; streaming their content (read, import, compress) is in segment-content.ts.
// Visibility rule: the sidecar is written (atomically) first, the segment is renamed into place
// last; a sidecar without its segment, and any `.tmp-*` file, is an orphan of a crash and removed
// under the lock. Content never changes once visible (compression writes `.seg.gz` whole, then
// removes `.seg`), so readers need no lock for content.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { Config } from '../config/schema.js';
import {
  ARCHIVE_NAME,
  classifyArchiveEntry,
  normaliseUuid,
  parseSegmentKey,
  segmentFileNames,
  segmentKey,
} from './layout.js';
import type { BootMark } from './markers.js';
import { SafeDir } from './safe-fs.js';
import { isSegmentMeta } from './sidecar.js';
import type { TrackedFile } from './watermarks.js';

const C = fs.constants;

/** The sidecar of a segment: everything a reader or a peer needs without opening the content. */
export interface SegmentMeta {
  version: 1;
  key: string;
  host: string;
  generation: number;
  seq: number;
  device: string;
  /** Why it was sealed: `restart` (before a truncating start), `stop`, `migrated`, `destroyed`, `imported`... */
  reason: string;
  /** Where the bytes came from: the live file and the byte range of it. */
  origin: { host: string; path: string; dev: number; ino: number; start: number; end: number };
  plainBytes: number;
  /** Newline count of the plain content. */
  lines: number;
  firstTime: string;
  lastTime: string;
  /** sha256 (hex) of the plain content: the content address for imports. */
  sha256: string;
  /** Boot boundaries inside the content (in-band markers, or an implicit one at 0). */
  boots: BootMark[];
  sealedAt: string;
  /** The watermark this seal produced (replayed if sealed.json missed it in a crash). */
  watermark?: TrackedFile;
  /** Set on segments fetched from a peer: the peer's host and its key there. */
  importedFrom?: { host: string; key: string };
}

export interface SegmentInfo extends SegmentMeta {
  /** File name inside archive/ holding the content. */
  file: string;
  compressed: boolean;
  /** Bytes on disk (compressed size for .gz). */
  storedBytes: number;
  /** Bytes of the sidecar on disk. */
  sidecarBytes: number;
}

function uuidOf(uuid: string): string {
  const u = normaliseUuid(uuid);
  if (!u) throw new Error(`not a domain UUID: ${JSON.stringify(uuid)}`);
  return u;
}

/** Opens <log_root>/<uuid>/archive (creating it if asked); undefined if it does not exist. */
export function openArchive(config: Config, uuid: string, create = false): SafeDir | undefined {
  try {
    if (create) SafeDir.openRoot(config.logRoot, true).close();
    return SafeDir.openBeneath(config.logRoot, [uuidOf(uuid), ARCHIVE_NAME], create, 0o750);
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
 * Metadata of a segment whose sidecar is unreadable, from its key and content: boots are left out
 * (a marker counts only when the domain's state knows its id) and the device is the one of the
 * host's previous segment (else serial0). Undefined if the content cannot be read either.
 */
function rebuildMeta(
  archive: SafeDir,
  key: string,
  file: string,
  gz: boolean,
  st: fs.Stats,
  device = 'serial0',
): SegmentMeta | undefined {
  const k = parseSegmentKey(key);
  if (!k) return undefined;
  let content: Buffer;
  try {
    const fd = archive.open(file, C.O_RDONLY);
    try {
      content = fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (gz) content = gunzipSync(content);
  } catch {
    return undefined;
  }
  let lines = 0;
  for (let i = content.indexOf(10); i >= 0; i = content.indexOf(10, i + 1)) lines++;
  const time = st.mtime.toISOString();
  return {
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
}

/** Lists the visible segments of an opened archive, in history (key) order. */
export function listArchive(archive: SafeDir): SegmentInfo[] {
  const files = new Map<string, { plain?: boolean; gz?: boolean; sidecar?: boolean }>();
  for (const name of archive.list()) {
    const c = classifyArchiveEntry(name);
    if (c.kind === 'temp' || c.kind === 'other') continue;
    const e = files.get(c.key) ?? {};
    e[c.kind] = true;
    files.set(c.key, e);
  }
  const out: SegmentInfo[] = [];
  for (const key of [...files.keys()].sort()) {
    const e = files.get(key);
    if (!e?.sidecar || !(e.plain || e.gz)) continue;
    const names = segmentFileNames(key);
    // Both exist only between compression's rename and its unlink: the plain one is complete too.
    const file = e.plain ? names.plain : names.gz;
    const st = archive.lstat(file);
    if (!st?.isFile()) continue;
    // A sidecar that does not parse (disk corruption, a hand edit) must not hide sealed content.
    const meta =
      parseMeta(archive.readText(names.sidecar), key) ??
      rebuildMeta(
        archive,
        key,
        file,
        !e.plain,
        st,
        [...out].reverse().find((o) => o.host === parseSegmentKey(key)?.host)?.device,
      );
    if (!meta) continue;
    out.push({
      ...meta,
      file,
      compressed: !e.plain,
      storedBytes: st.size,
      sidecarBytes: archive.lstat(names.sidecar)?.size ?? 0,
    });
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
 * sidecar first, then the rename that makes it visible. Call under the lock.
 */
export function publishSegment(
  archive: SafeDir,
  tempName: string,
  meta: SegmentMeta,
  mode: number,
  compressed = false,
): void {
  const names = segmentFileNames(meta.key);
  maybeFail('before-sidecar');
  archive.writeAtomic(names.sidecar, JSON.stringify(meta) + '\n', mode);
  maybeFail('before-segment-rename');
  archive.rename(tempName, compressed ? names.gz : names.plain);
  archive.fsync();
  maybeFail('after-segment-rename');
}

/** Key for a new segment of this store. */
export function newKey(generation: number, seq: number, host: string): string {
  return segmentKey(generation, seq, host);
}

/** Deletes a segment: content first (it stops being visible), then its sidecar. Call under the lock. */
export function deleteSegment(archive: SafeDir, key: string): void {
  const names = segmentFileNames(key);
  archive.unlink(names.plain);
  archive.unlink(names.gz);
  archive.unlink(names.sidecar);
}
