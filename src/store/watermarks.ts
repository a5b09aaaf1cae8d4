// Seal watermarks (sealed.json): per origin file, identified by device + inode (+ birth time and a
// hash of its first bytes, against inode reuse), the offset up to which it is sealed. virtlogd's
// rotation renames keep the inode, so a watermark follows `x.log` -> `x.log.0`. Pure functions.
import { createHash } from '../util/crypto.js';

/** How many leading bytes identify a file's content, with dev+ino, against inode reuse and truncation. */
export const HEAD_BYTES = 256;

export interface TrackedFile {
  host: string;
  device: string;
  /** Path where it was last seen (for messages and the reader; the inode is the identity). */
  path: string;
  dev: number;
  ino: number;
  /** 0 where the file system does not report a birth time. */
  birthtimeMs: number;
  /** sha256 (hex) of the first headLen bytes at the time of the last seal. */
  head: string;
  headLen: number;
  /** Bytes [0, offset) are sealed into the archive. */
  offset: number;
  /**
   * Set when the next start truncates this file in place (same inode): if its ctime changed
   * since, the content was rewritten from offset 0 by a new boot.
   */
  truncateAfter?: { ctimeMs: number };
  /**
   * The file is on its host's own disk (live_dir): in a store shared by several hosts, the same
   * dev + inode on another host is another file, so only its own host's seals match it.
   */
  local?: true;
  updated: string;
}

export interface SealState {
  version: 1;
  /** Next segment sequence number of this store (keys never repeat). */
  nextSeq: number;
  files: TrackedFile[];
  /** Segments whose seal no record describes any more: a seal skips live bytes equal to one. */
  unrecorded?: UnrecordedSeal[];
}

/** A segment whose sidecar was unreadable when its watermark was needed, by length and hashes. */
export interface UnrecordedSeal {
  key: string;
  host: string;
  bytes: number;
  /** sha256 of its first min(bytes, HEAD_BYTES) bytes: the cheap first comparison. */
  head: string;
  sha256: string;
}

/** Unrecorded seals kept at most: each costs a seal one small read. */
export const MAX_UNRECORDED = 16;

export function emptySealState(): SealState {
  return { version: 1, nextSeq: 1, files: [] };
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** Whether a value read from disk (sealed.json, a sidecar's watermark) is a whole TrackedFile. */
export function isTrackedFile(v: unknown): v is TrackedFile {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  const t = f.truncateAfter as Record<string, unknown> | undefined;
  return (
    isStr(f.host) &&
    isStr(f.device) &&
    isStr(f.path) &&
    isInt(f.dev) &&
    isInt(f.ino) &&
    isNum(f.birthtimeMs) &&
    isStr(f.head) &&
    isInt(f.headLen) &&
    isInt(f.offset) &&
    isStr(f.updated) &&
    (t === undefined || (typeof t === 'object' && t !== null && isNum(t.ctimeMs)))
  );
}

function isUnrecordedSeal(v: unknown): v is UnrecordedSeal {
  const u = v as UnrecordedSeal;
  return (
    !!u &&
    typeof u.key === 'string' &&
    typeof u.host === 'string' &&
    isInt(u.bytes) &&
    u.bytes > 0 &&
    typeof u.head === 'string' &&
    typeof u.sha256 === 'string'
  );
}

/**
 * Parses sealed.json; a corrupt file (one bad entry included: half a file is not to be trusted)
 * yields undefined, and the caller rebuilds it from the sidecars.
 */
export function parseSealState(text: string | undefined): SealState | undefined {
  if (text === undefined) return emptySealState();
  try {
    const v = JSON.parse(text) as SealState | null;
    if (v?.version !== 1 || !Array.isArray(v.files) || !isInt(v.nextSeq) || !v.files.every(isTrackedFile))
      return undefined;
    if (v.unrecorded !== undefined && !(Array.isArray(v.unrecorded) && v.unrecorded.every(isUnrecordedSeal)))
      return undefined;
    return v;
  } catch {
    return undefined;
  }
}

export interface FileIdentity {
  dev: number;
  ino: number;
  birthtimeMs: number;
  size: number;
  ctimeMs: number;
}

export function headHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Whether `f` tracks the file `id` that `host` sees (a host-local file only matches on its host). */
function tracks(f: TrackedFile, id: Pick<FileIdentity, 'dev' | 'ino'>, host: string): boolean {
  return f.dev === id.dev && f.ino === id.ino && (!f.local || f.host === host);
}

export function findTracked(
  state: SealState,
  id: Pick<FileIdentity, 'dev' | 'ino'>,
  host: string,
): TrackedFile | undefined {
  return state.files.find((f) => tracks(f, id, host));
}

export interface UnsealedStart {
  /** First byte of the file not yet sealed. */
  start: number;
  /** The content was rewritten from 0 (truncated in place, or a reused inode): a new boot began there. */
  rewritten: boolean;
  /**
   * Rewritten in place after a seal that expected it (`truncateAfter`): a truncating source's start.
   * Its byte 0 is where the new boot begins, wherever virtlogd's rotation has moved the file since.
   */
  truncated?: true;
}

/**
 * Where the unsealed part of a file begins. `headOf(len)` returns the hash of the file's first
 * `len` bytes now. Anything that does not match the tracked file exactly counts as new content
 * from 0: a byte sealed twice is better than a byte lost.
 */
export function unsealedStart(
  tracked: TrackedFile | undefined,
  id: FileIdentity,
  headOf: (len: number) => string,
): UnsealedStart {
  if (!tracked) return { start: 0, rewritten: false };
  const sameBirth = !tracked.birthtimeMs || !id.birthtimeMs || tracked.birthtimeMs === id.birthtimeMs;
  if (!sameBirth) return { start: 0, rewritten: true };
  const rewritten = {
    start: 0,
    rewritten: true,
    ...(tracked.truncateAfter ? { truncated: true as const } : {}),
  };
  if (id.size < tracked.offset) return rewritten;
  if (tracked.truncateAfter && tracked.truncateAfter.ctimeMs !== id.ctimeMs) return rewritten;
  if (tracked.headLen > 0 && headOf(tracked.headLen) !== tracked.head) return rewritten;
  return { start: tracked.offset, rewritten: false };
}

/** The watermark after sealing a file up to `offset`. */
export function advance(
  at: {
    host: string;
    device: string;
    path: string;
    id: FileIdentity;
    offset: number;
    head: Buffer;
    now: Date;
    /** On the host's own disk (live_dir). */
    local: boolean;
  },
  truncateNext: boolean,
): TrackedFile {
  const headLen = Math.min(at.offset, HEAD_BYTES, at.head.length);
  return {
    host: at.host,
    device: at.device,
    path: at.path,
    dev: at.id.dev,
    ino: at.id.ino,
    birthtimeMs: at.id.birthtimeMs,
    head: headHash(at.head.subarray(0, headLen)),
    headLen,
    offset: at.offset,
    ...(truncateNext ? { truncateAfter: { ctimeMs: at.id.ctimeMs } } : {}),
    ...(at.local ? { local: true as const } : {}),
    updated: at.now.toISOString(),
  };
}

/** Replaces or adds a tracked file (the one that tracks the same file, as its host sees it). */
export function upsertTracked(state: SealState, t: TrackedFile): SealState {
  return {
    ...state,
    files: [...state.files.filter((f) => !(tracks(f, t, t.host) && !!f.local === !!t.local)), t],
  };
}

/** Drops watermarks of a host's device whose files are gone (deleted by virtlogd after rotation). */
export function dropVanished(
  state: SealState,
  host: string,
  device: string,
  present: readonly Pick<FileIdentity, 'dev' | 'ino'>[],
): SealState {
  return {
    ...state,
    files: state.files.filter(
      (f) =>
        f.host !== host || f.device !== device || present.some((p) => p.dev === f.dev && p.ino === f.ino),
    ),
  };
}
