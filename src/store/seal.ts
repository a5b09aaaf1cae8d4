// Sealing: copy the bytes of a live (origin) file beyond its watermark into a new archive segment.
// Order of a seal (crash-safe: a kill -9 at any point loses nothing and shows no half segment):
//   1. content -> archive/.tmp-* , fsync        (invisible)
//   2. sidecar archive/<key>.json, atomically   (invisible: no segment yet)
//   3. rename .tmp-* -> <key>.seg, fsync dir    (visible, complete)
//   4. sealed.json with the new watermark       (a crash before it is replayed from the sidecar)
// Long: the steps of one seal (ranges, markers, lost records, making room) share a locked store.
import * as fs from 'node:fs';
import { createHash } from '../util/crypto.js';
import type { Config } from '../config/schema.js';
import type { BootRef } from './domain-state.js';
import { hostState, knownMarkerIds } from './domain-state.js';
import { MemberWriter } from './gzip-members.js';
import { identity, openParentSafely, openRotationSet, readAt, type OpenedFile } from './files.js';
import { inHistoryOrder, isInside, rotationSet } from './layout.js';
import type { LockInfo } from './lock.js';
import { MarkerScanner, resumedBoot, type BootMark } from './markers.js';
import { deleteSegment, listArchive, newKey, publishSegment, type SegmentMeta } from './segments.js';
import { withStore, type LockedStore } from './session.js';
import {
  advance,
  dropVanished,
  findTracked,
  HEAD_BYTES,
  headHash,
  unsealedStart,
  upsertTracked,
  type FileIdentity,
  type UnrecordedSeal,
} from './watermarks.js';

const C = fs.constants;
const CHUNK = 1024 * 1024;

export interface SealRequest {
  host: string;
  device: string;
  /** Live source path (from XML or domain.json). */
  path: string;
  generation: number;
  reason: string;
  /** The boot that wrote this device's content since its last start (domain.json). */
  boot?: BootRef;
  /** The next start truncates the live file in place: remember its ctime. */
  truncateNext: boolean;
  /** The device's source is truncated at every start: its content from 0 is one boot's output. */
  truncating?: boolean;
  /** Byte 0 begins a boot no record names (decide-prepare.ts: `unknownBootAt0`). */
  unknownBootAt0?: boolean;
  /** gzip while sealing (ranges of at least config.compressMinBytes); off where latency matters (prepare). */
  compress?: boolean;
}

export interface SealOutcome {
  device: string;
  path: string;
  segments: { key: string; bytes: number; from: string }[];
  /** Why nothing was done (path refused, missing...). */
  skipped?: string;
  /** True when the path was refused for safety (outside roots, symlink): capture is degraded. */
  refused?: boolean;
  /** Live ranges found already sealed in a segment whose records were lost: not sealed again. */
  known?: string[];
}

/** Seals one device's live files (virtlogd's rotation set, oldest first). Store must be locked. */
export function sealDevice(store: LockedStore, req: SealRequest, now: Date): SealOutcome {
  const outcome: SealOutcome = { device: req.device, path: req.path, segments: [] };
  const opened = openParentSafely(store.config, req.path);
  if ('refused' in opened) return { ...outcome, skipped: opened.refused, refused: true };
  if ('missing' in opened) return { ...outcome, skipped: 'no live file yet' };
  const { dir, name } = opened;
  try {
    const { files, refused } = openRotationSet(dir, name);
    if (refused.length) {
      outcome.skipped = refused.join('; ');
      outcome.refused = true;
    }
    const present: FileIdentity[] = [];
    // Only the oldest range sealed now can be where a boot whose marker was rotated away resumes.
    let oldestRange = true;
    for (const [i, { file, fd, st }] of files.entries()) {
      try {
        const id = identity(st);
        present.push(id);
        const tracked = findTracked(store.seal, id, req.host);
        const unsealed = unsealedStart(tracked, id, (len) => headHash(readAt(fd, len, 0)));
        const start = pastUnrecorded(store, req.host, fd, unsealed.start, id.size);
        if (start > unsealed.start)
          (outcome.known ??= []).push(
            `${dir.display(file)} bytes ${unsealed.start}-${start} are already sealed (their records were lost): not sealed again`,
          );
        const isBase = file === name;
        if (id.size > start) {
          // A truncating source's boot begins at byte 0 of the file its start truncated, wherever
          // rotation moved it; a later file begins where virtlogd cut (often mid-line), and a log
          // file rewritten from 0 without a start (an inode reused) is not a new boot either.
          // Also where every record of the boot is lost (domain.json, truncateAfter): an unknown boot.
          const bootAt0 =
            !!req.truncating &&
            start === unsealed.start &&
            (!!unsealed.truncated || (!!req.unknownBootAt0 && isBase && start === 0 && !req.boot));
          const markedElsewhere = oldestRange
            ? (bootId: string) =>
                markerUnsealed(store, req.host, files.slice(i + 1), bootId) ||
                (!!req.truncating && truncatedUnsealed(store, req.host, files.slice(i + 1))) ||
                listArchive(store.archive).some(
                  (s) => s.device === req.device && s.boots.some((b) => b.id === bootId),
                )
            : undefined;
          oldestRange = false;
          const key = sealRange(
            store,
            req,
            fd,
            dir.display(file),
            id,
            start,
            st,
            bootAt0,
            markedElsewhere,
            tracked?.updated,
            now,
          );
          outcome.segments.push({ key, bytes: id.size - start, from: dir.display(file) });
        }
        const head = readAt(fd, Math.min(HEAD_BYTES, id.size), 0);
        store.seal = upsertTracked(
          store.seal,
          advance(
            {
              host: req.host,
              device: req.device,
              path: dir.display(file),
              id,
              offset: id.size,
              head,
              now,
              local: isInside(store.config.liveDir, req.path),
            },
            req.truncateNext && isBase,
          ),
        );
      } finally {
        fs.closeSync(fd);
      }
    }
    store.seal = dropVanished(store.seal, req.host, req.device, present);
    return outcome;
  } finally {
    dir.close();
  }
}

/**
 * Where unsealed bytes begin once those at `start` that equal, byte for byte, a segment of this host
 * whose records were lost are skipped (several may follow each other); a match leaves sealed.json.
 * Equal bytes at the same place are taken for the bytes sealed before: boot markers' random ids
 * make an append-mode log's boots differ; a truncating serial would need identical boots.
 */
function pastUnrecorded(store: LockedStore, host: string, fd: number, start: number, size: number): number {
  let at = start;
  let left = store.seal.unrecorded ?? [];
  for (let i = 0; i < left.length; i++) {
    const u = left[i] as UnrecordedSeal;
    if (u.host !== host || u.bytes > size - at) continue;
    if (headHash(readAt(fd, Math.min(HEAD_BYTES, u.bytes), at)) !== u.head) continue;
    if (hashRange(fd, at, u.bytes) !== u.sha256) continue;
    at += u.bytes;
    left = left.filter((_, j) => j !== i);
    i = -1;
  }
  if (at > start) {
    store.seal = { ...store.seal, unrecorded: left };
    if (!left.length) delete store.seal.unrecorded;
  }
  return at;
}

/** sha256 of `len` bytes of `fd` at `pos`, read in chunks. */
function hashRange(fd: number, pos: number, len: number): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, len));
  for (let done = 0; done < len;) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, len - done), pos + done);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    done += n;
  }
  return hash.digest('hex');
}

function sealRange(
  store: LockedStore,
  req: SealRequest,
  fd: number,
  displayPath: string,
  id: FileIdentity,
  start: number,
  st: fs.Stats,
  rewritten: boolean,
  /** For the oldest range of a seal: whether req.boot's marker or boundary lies outside this range. */
  markedElsewhere: ((bootId: string) => boolean) | undefined,
  sealedBefore: string | undefined,
  now: Date,
): string {
  const { archive, config } = store;
  const seq = store.seal.nextSeq;
  const key = newKey(req.generation, seq, req.host);
  const tmp = archive.tempName(key);
  const out = archive.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL, config.logFileMode);
  const hash = createHash('sha256');
  const scan = new MarkerScanner();
  const gzip = !!req.compress && config.compressMinBytes >= 0 && id.size - start >= config.compressMinBytes;
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const members = gzip ? new MemberWriter(out) : undefined;
    let pos = start;
    while (pos < id.size) {
      const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, id.size - pos), pos);
      if (n === 0) throw new Error(`${displayPath} shrank while sealing`);
      const chunk = buf.subarray(0, n);
      hash.update(chunk);
      scan.feed(chunk);
      if (members) members.add(chunk);
      else for (let w = 0; w < n;) w += fs.writeSync(out, chunk, w, n - w);
      pos += n;
    }
    members?.end();
    fs.fsyncSync(out);
  } catch (e) {
    fs.closeSync(out);
    archive.unlink(tmp);
    throw e;
  }
  fs.closeSync(out);
  const known = knownMarkerIds(store.domain);
  const boots: BootMark[] = scan.marks.filter((m) => known.has(m.id));
  if (rewritten && boots[0]?.offset !== 0) {
    boots.unshift({
      offset: 0,
      id: req.boot?.id ?? `unknown-${key}`,
      host: req.host,
      at: req.boot?.at ?? new Date(st.birthtimeMs || st.ctimeMs).toISOString(),
      markerBytes: 0,
    });
  } else if (markedElsewhere) {
    const resumed = resumedBoot(
      req.boot,
      0,
      (bootId) => boots.some((b) => b.id === bootId) || markedElsewhere(bootId),
    );
    if (resumed) boots.unshift(resumed);
  }
  const head = readAt(fd, Math.min(HEAD_BYTES, id.size), 0);
  const meta: SegmentMeta = {
    version: 1,
    key,
    host: req.host,
    generation: req.generation,
    seq,
    device: req.device,
    reason: req.reason,
    origin: { host: req.host, path: displayPath, dev: id.dev, ino: id.ino, start, end: id.size },
    plainBytes: id.size - start,
    lines: scan.lines,
    firstTime:
      (!rewritten && sealedBefore) || req.boot?.at || new Date(st.birthtimeMs || st.ctimeMs).toISOString(),
    lastTime: st.mtime.toISOString(),
    sha256: hash.digest('hex'),
    boots,
    sealedAt: now.toISOString(),
    watermark: advance(
      {
        host: req.host,
        device: req.device,
        path: displayPath,
        id,
        offset: id.size,
        head,
        now,
        local: isInside(config.liveDir, req.path),
      },
      false,
    ),
  };
  publishSegment(archive, tmp, meta, config.logFileMode, gzip);
  store.seal = { ...store.seal, nextSeq: seq + 1 };
  return key;
}

/** Whether boot `bootId`'s marker is in the unsealed part of one of `host`'s `files`. */
function markerUnsealed(
  store: LockedStore,
  host: string,
  files: readonly OpenedFile[],
  bootId: string,
): boolean {
  return files.some(({ fd, st }) => {
    const id = identity(st);
    const { start } = unsealedStart(findTracked(store.seal, id, host), id, (len) =>
      headHash(readAt(fd, len, 0)),
    );
    const scan = new MarkerScanner();
    for (let pos = start; pos < id.size;) {
      const chunk = readAt(fd, Math.min(CHUNK, id.size - pos), pos);
      if (!chunk.length) break;
      scan.feed(chunk);
      pos += chunk.length;
    }
    return scan.marks.some((m) => m.id === bootId);
  });
}

/** Whether a start truncated one of `host`'s `files` in place (its boot begins there). */
function truncatedUnsealed(store: LockedStore, host: string, files: readonly OpenedFile[]): boolean {
  return files.some(({ fd, st }) => {
    const id = identity(st);
    return !!unsealedStart(findTracked(store.seal, id, host), id, (len) => headHash(readAt(fd, len, 0)))
      .truncated;
  });
}

export interface HostSealResult {
  outcomes: SealOutcome[];
  repairs: string[];
  damage: string[];
  lock: LockInfo;
}

/**
 * Seals every live file of `host` that domain.json knows (on demand: stop, release, migration
 * hand-over, `virt-consolelog` commands). Takes the domain lock; safe to call any time.
 */
export async function sealHost(
  config: Config,
  uuid: string,
  host: string,
  reason: string,
  now = new Date(),
): Promise<HostSealResult> {
  return withStore(config, uuid, (store) => ({
    outcomes: sealHostLocked(store, host, reason, now),
    repairs: store.repairs,
    damage: store.damage,
    lock: store.lock,
  }));
}

/** sealHost for a store already locked. */
export function sealHostLocked(
  store: LockedStore,
  host: string,
  reason: string,
  now: Date,
): (SealOutcome & { pruned: string[] })[] {
  const h = hostState(store.domain, host);
  return Object.entries(h.devices).map(([device, d]) =>
    sealDeviceMakingRoom(
      store,
      {
        host,
        device,
        path: d.path,
        generation: h.generation,
        reason,
        ...(d.boot ? { boot: d.boot } : {}),
        truncateNext: false,
        truncating: d.truncating,
        compress: true,
      },
      now,
    ),
  );
}

/** Bytes of a host's live files not sealed yet (an upper bound on what sealHost would archive). */
export function unsealedBytes(store: LockedStore, host: string): number {
  let total = 0;
  for (const d of Object.values(hostState(store.domain, host).devices)) {
    const opened = openParentSafely(store.config, d.path);
    if (!('dir' in opened)) continue;
    try {
      for (const file of rotationSet(opened.name, opened.dir.list())) {
        let fd: number;
        try {
          fd = opened.dir.open(file, C.O_RDONLY | C.O_NONBLOCK);
        } catch {
          continue;
        }
        try {
          const st = fs.fstatSync(fd);
          if (!st.isFile()) continue;
          const id = identity(st);
          const { start } = unsealedStart(findTracked(store.seal, id, host), id, (len) =>
            headHash(readAt(fd, len, 0)),
          );
          total += Math.max(0, id.size - start);
        } finally {
          fs.closeSync(fd);
        }
      }
    } finally {
      opened.dir.close();
    }
  }
  return total;
}

/**
 * sealDevice, and on a full disk (ENOSPC) deletes this domain's oldest segments (retention's
 * order) until the unsealed bytes would fit, then tries once more. Returns the keys deleted.
 */
export function sealDeviceMakingRoom(
  store: LockedStore,
  req: SealRequest,
  now: Date,
): SealOutcome & { pruned: string[] } {
  try {
    return { ...sealDevice(store, req, now), pruned: [] };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    const need = unsealedBytes(store, req.host) + 64 * 1024;
    const pruned: string[] = [];
    let freed = 0;
    for (const s of inHistoryOrder(listArchive(store.archive))) {
      if (freed >= need) break;
      deleteSegment(store.archive, s.key);
      freed += s.storedBytes + s.sidecarBytes;
      pruned.push(s.key);
    }
    if (!pruned.length) throw e;
    store.archive.fsync();
    return { ...sealDevice(store, req, now), pruned };
  }
}
