// Where things live in the store (docs/DESIGN.md "The store"). Pure: paths only, no I/O.
import { posix } from 'node:path';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Host and device names become path components: only this alphabet, never "." or "..". */
const COMPONENT_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** Normalises a domain UUID (libvirt accepts upper case and no dashes); undefined if it is not one. */
export function normaliseUuid(s: string): string | undefined {
  const hex = s.trim().toLowerCase().replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The one check of a domain UUID given to a path builder: normalised, or an error that names it. */
export function domainUuid(uuid: string): string {
  const u = normaliseUuid(uuid);
  if (!u) throw new Error(`not a domain UUID: ${JSON.stringify(uuid)}`);
  return u;
}

export function isSafeComponent(s: string): boolean {
  return COMPONENT_RE.test(s) && s !== '.' && s !== '..' && !s.includes('..');
}

export function assertSafeComponent(what: string, s: string): string {
  if (!isSafeComponent(s)) throw new Error(`unsafe ${what} for a store path: ${JSON.stringify(s)}`);
  return s;
}

export function domainDir(logRoot: string, uuid: string): string {
  return posix.join(logRoot, domainUuid(uuid));
}

const LIVE_SUFFIX = '.console';
const LIVE_RE =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([a-z]+[0-9]{1,3})\.console$/;

/**
 * The live file virtlogd writes for one chardev of a domain: `<live_dir>/<uuid>.<device>.console`.
 * Flat and host-independent: live_dir is host-local, so two hosts never write one file, and the path
 * in a migrating guest's XML is valid on any libvirt host. Not `*.log`: libvirt's logrotate rule for
 * its QEMU folder (copytruncate of `*.log`) must not cut it behind virtlogd's back, and no domain's
 * own `<name>.log` can be mistaken for it.
 */
export function liveLogPath(liveDir: string, uuid: string, device: string): string {
  const u = normaliseUuid(uuid);
  if (!u) throw new Error(`not a domain UUID: ${JSON.stringify(uuid)}`);
  return posix.join(liveDir, `${u}.${assertSafeComponent('device name', device)}${LIVE_SUFFIX}`);
}

/** The domain and device of one of our live files (by name, in live_dir); undefined for any other path. */
export function parseLiveLogPath(
  liveDir: string,
  path: string,
): { uuid: string; device: string } | undefined {
  const p = posix.normalize(path);
  if (posix.dirname(p) !== posix.normalize(liveDir).replace(/\/+$/, '')) return undefined;
  const m = LIVE_RE.exec(posix.basename(p));
  return m ? { uuid: m[1] as string, device: m[2] as string } : undefined;
}

export function archiveDir(logRoot: string, uuid: string): string {
  return posix.join(domainDir(logRoot, uuid), 'archive');
}

/** True when `path` (absolute, normalised) lies inside `root`. Symlinks are the caller's business. */
export function isInside(root: string, path: string): boolean {
  const r = posix.normalize(root).replace(/\/+$/, '');
  const p = posix.normalize(path);
  return p === r || p.startsWith(r + '/');
}

export const DOMAIN_STATE_FILE = 'domain.json';
export const SEAL_STATE_FILE = 'sealed.json';
export const LOCK_NAME = '.lock';
export const ARCHIVE_NAME = 'archive';
/** The archive index (archive-index.ts), inside archive/: not a segment name, so listings skip it. */
export const INDEX_NAME = 'index.jsonl';

export function domainStatePath(logRoot: string, uuid: string): string {
  return posix.join(domainDir(logRoot, uuid), DOMAIN_STATE_FILE);
}

export function sealStatePath(logRoot: string, uuid: string): string {
  return posix.join(domainDir(logRoot, uuid), SEAL_STATE_FILE);
}

export function lockPath(logRoot: string, uuid: string): string {
  return posix.join(domainDir(logRoot, uuid), LOCK_NAME);
}

const KEY_RE = /^(\d{6})-(\d{8})-([A-Za-z0-9][A-Za-z0-9_.-]{0,127})$/;

/** A segment key sorts in history order: generation, then sequence, then host. */
export function segmentKey(generation: number, seq: number, host: string): string {
  if (!Number.isSafeInteger(generation) || generation < 0 || generation > 999999)
    throw new Error(`generation out of range: ${generation}`);
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > 99999999)
    throw new Error(`segment sequence out of range: ${seq}`);
  return `${String(generation).padStart(6, '0')}-${String(seq).padStart(8, '0')}-${assertSafeComponent('host name', host)}`;
}

export function parseSegmentKey(key: string): { generation: number; seq: number; host: string } | undefined {
  const m = KEY_RE.exec(key);
  if (!m || !isSafeComponent(m[3] ?? '')) return undefined;
  return { generation: Number(m[1]), seq: Number(m[2]), host: m[3] as string };
}

/**
 * Whether `key` is a segment key (as parseSegmentKey, without building its parts: readers check every
 * key of a listing). KEY_RE's host part is COMPONENT_RE and starts with a letter or digit, so the
 * only rule of isSafeComponent left to check is "no '..'", and the rest of a key holds no dot.
 */
export function isSegmentKey(key: string): boolean {
  return KEY_RE.test(key) && !key.includes('..');
}

/** Whether `key` is the segment key of this generation and sequence (any host). */
export function isKeyOf(key: string, generation: number, seq: number): boolean {
  return isSegmentKey(key) && digitsAt(key, 0, 6) === generation && digitsAt(key, 7, 8) === seq;
}

/** The sequence number of a segment key; undefined when `key` is not one. */
export function segmentKeySeq(key: string): number | undefined {
  return isSegmentKey(key) ? digitsAt(key, 7, 8) : undefined;
}

/** The number written by `length` decimal digits at `start` (the caller has checked they are digits). */
function digitsAt(s: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i++) n = n * 10 + s.charCodeAt(i) - 48;
  return n;
}

/**
 * Where a segment sorts in history: its key, with the generation replaced by `orderGeneration` when
 * that is higher (seals made while an arrival's fetch was owed, placed after the history it fetched:
 * src/transfer/decide-order.ts). Readers, retention and the disk-full pruning share it.
 */
export function segmentSortKey(s: { key: string; orderGeneration?: number | undefined }): string {
  const order = s.orderGeneration;
  if (order === undefined || !Number.isSafeInteger(order) || order < 0 || order > 999999) return s.key;
  const g = String(order).padStart(6, '0');
  return g > s.key.slice(0, 6) ? g + s.key.slice(6) : s.key;
}

/** Segments oldest first in history order (segmentSortKey): what retention and pruning delete first. */
export function inHistoryOrder<T extends { key: string; orderGeneration?: number | undefined }>(
  segments: readonly T[],
): T[] {
  return segments
    .map((s) => ({ s, order: segmentSortKey(s) }))
    .sort((a, b) => (a.order < b.order ? -1 : 1))
    .map((x) => x.s);
}

/** File names of one archived segment inside `archive/`. */
export function segmentFileNames(key: string): { plain: string; gz: string; sidecar: string } {
  if (!parseSegmentKey(key)) throw new Error(`not a segment key: ${JSON.stringify(key)}`);
  return { plain: `${key}.seg`, gz: `${key}.seg.gz`, sidecar: `${key}.json` };
}

/** What an archive directory entry is: a segment file, a sidecar, a temp file, or something else. */
export function classifyArchiveEntry(
  name: string,
): { kind: 'plain' | 'gz' | 'sidecar'; key: string } | { kind: 'temp' } | { kind: 'other' } {
  if (name.startsWith('.tmp-')) return { kind: 'temp' };
  const m = /^(.*?)(\.seg\.gz|\.seg|\.json)$/.exec(name);
  if (!m || !parseSegmentKey(m[1] ?? '')) return { kind: 'other' };
  const kind = m[2] === '.seg.gz' ? 'gz' : m[2] === '.seg' ? 'plain' : 'sidecar';
  return { kind, key: m[1] as string };
}

/**
 * virtlogd's rotation set of a live file, oldest first: `name.N` ... `name.0`, then `name`.
 * `entries` are the names in the live file's folder.
 */
export function rotationSet(baseName: string, entries: readonly string[]): string[] {
  const backups: { name: string; n: number }[] = [];
  let hasBase = false;
  for (const e of entries) {
    if (e === baseName) hasBase = true;
    else if (e.startsWith(baseName + '.')) {
      const suffix = e.slice(baseName.length + 1);
      if (/^(0|[1-9]\d{0,2})$/.test(suffix)) backups.push({ name: e, n: Number(suffix) });
    }
  }
  backups.sort((a, b) => b.n - a.n);
  return [...backups.map((b) => b.name), ...(hasBase ? [baseName] : [])];
}
