// The read-only export a peer runs through ssh's forced command (`virt-consolelog serve-export`):
// one validated request in, the listing or bytes of ONE domain's store out. Every file is reached
// through the store's symlink-proof SafeDir walk from its root (log_root, live_dir, an allowed
// root); nothing a peer sends becomes a path: it names a uuid, a segment key the archive lists, or a
// device whose path this host's domain.json records.
import * as fs from 'node:fs';
import { createHash } from '../util/crypto.js';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Config } from '../config/schema.js';
import { knownMarkerIds, type DomainState } from '../store/domain-state.js';
import { isSafeComponent, rotationSet } from '../store/layout.js';
import { SafeDir, UnsafePathError, locateAllowed } from '../store/safe-fs.js';
import { openSegment } from '../store/segment-content.js';
import { listSegments, type SegmentInfo } from '../store/segments.js';
import {
  openDomainView,
  replayedSealState,
  viewDomainState,
  viewSealFile,
  viewSegments,
} from '../store/view.js';
import { findTracked, headHash, unsealedStart, type SealState } from '../store/watermarks.js';
import { actionRoots, identity, openParentSafely, readAt } from '../store/files.js';
import {
  IMPORTED_TIMES_FILE,
  parseImported,
  pointsOfSegment,
  segmentRun,
} from '../capture/imported-times.js';
import { parseTimes, timesFileName } from '../capture/times.js';
import {
  HEAD_LEN,
  PROTOCOL_VERSION,
  type SegmentTimesOffer,
  type ExportRequest,
  type ListedLive,
  type ListedSegment,
  type Listing,
} from './protocol.js';

const C = fs.constants;

/** A refusal the peer should see as "not found" (exit 3) rather than as a failure. */
export class ExportNotFound extends Error {
  override name = 'ExportNotFound';
}

function listedSegment(s: SegmentInfo): ListedSegment {
  const { file: _file, compressed: _compressed, storedBytes: _stored, ...sidecar } = s;
  return {
    key: s.key,
    host: s.host,
    generation: s.generation,
    seq: s.seq,
    bytes: s.plainBytes,
    sha256: s.sha256,
    reason: s.reason,
    sidecar: sidecar as unknown as Record<string, unknown>,
  };
}

/** sha256 of a file's first HEAD_LEN bytes: with the inode, tells a shared file from a namesake. */
function headOf(folder: SafeDir, name: string): string {
  const fd = folder.open(name, C.O_RDONLY | C.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(HEAD_LEN);
    const n = fs.readSync(fd, buf, 0, HEAD_LEN, 0);
    return createHash('sha256').update(buf.subarray(0, n)).digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * How much of a live file is sealed, decided as the sealer decides it (unsealedStart): a file
 * truncated in place since its watermark (a file serial restarted) has nothing of its content sealed.
 */
function sealedOffset(
  config: Config,
  folder: SafeDir,
  name: string,
  st: fs.Stats,
  seal: SealState | undefined,
): number {
  const tracked = seal ? findTracked(seal, st, config.hostName) : undefined;
  if (!tracked) return 0;
  const fd = folder.open(name, C.O_RDONLY | C.O_NONBLOCK);
  try {
    return unsealedStart(tracked, identity(st), (len) => headHash(readAt(fd, len, 0))).start;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Sizes and watermarks of this host's live files of the domain (the devices domain.json records for
 * this host, with virtlogd's rotations). Only metadata (sizes) leaves through this, never content;
 * paths outside the store and the allowed roots, and symlinks, are skipped.
 */
function liveFiles(config: Config, state: DomainState, seal: SealState | undefined): ListedLive[] {
  const me = state.hosts[config.hostName];
  if (!me) return [];
  const out: ListedLive[] = [];
  for (const [device, d] of Object.entries(me.devices).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const where = locateAllowed(d.path, actionRoots(config));
    if (!where) continue;
    let folder: SafeDir;
    try {
      folder = SafeDir.openBeneath(where.root, where.dirs);
    } catch {
      continue;
    }
    try {
      for (const name of rotationSet(where.name, folder.list())) {
        const st = folder.lstat(name);
        if (!st?.isFile()) continue;
        out.push({
          host: config.hostName,
          device,
          file: name,
          bytes: st.size,
          sealed: sealedOffset(config, folder, name, st, seal),
          path: folder.display(name),
          ino: st.ino,
          head: headOf(folder, name),
        });
      }
    } finally {
      folder.close();
    }
  }
  return out;
}

/** The listing of one domain: its sealed segments (all hosts' history this store holds) and this host's live files. */
export function buildListing(config: Config, uuid: string, now = new Date()): Listing {
  const listing: Listing = {
    protocol: PROTOCOL_VERSION,
    uuid,
    exporter: config.hostName,
    at: now.toISOString(),
    maxGeneration: 0,
    segments: [],
    live: [],
    markers: [],
  };
  const view = openDomainView(config, uuid);
  if (!view) return listing; // A domain this host never saw: an empty listing, not an error.
  try {
    // sealed.json before the listing, as the reader takes it (store/view.ts).
    const parsed = viewSealFile(view);
    const segments = viewSegments(view);
    listing.segments = segments.map(listedSegment);
    // No archive yet: nothing sealed.
    const seal = view.archive
      ? replayedSealState(
          view,
          parsed,
          segments.map((s) => s.key),
        )
      : undefined;
    const state = viewDomainState(view);
    listing.live = liveFiles(config, state, seal);
    listing.markers = [...knownMarkerIds(state)];
    listing.maxGeneration = Math.max(
      state.maxGeneration,
      ...segments.map((s) => Math.max(s.generation, s.orderGeneration ?? 0)),
    );
  } finally {
    view.close();
  }
  return listing;
}

/**
 * The arrival times of one segment, as the reader finds them here (an own seal's from the times
 * files, an import's from the imported file), in segment offsets; none: an empty list.
 */
export function buildTimesOffer(config: Config, uuid: string, key: string): SegmentTimesOffer {
  const view = openDomainView(config, uuid);
  if (!view) throw new ExportNotFound(`domain ${uuid} has no segment ${key}`);
  try {
    // Only keys the archive lists are served, as for `get`.
    const s = viewSegments(view).find((x) => x.key === key);
    if (!s) throw new ExportNotFound(`domain ${uuid} has no segment ${key}`);
    const localRuns = (host: string) =>
      // A host name from a sidecar becomes a file name only when it is one component.
      parseTimes(host, (isSafeComponent(host) ? view.dir.readText(timesFileName(host)) : undefined) ?? '');
    const importedRuns = () => parseImported(view.dir.readText(IMPORTED_TIMES_FILE) ?? '');
    const { run, base } = segmentRun(s, localRuns, importedRuns);
    const points = pointsOfSegment(run, base, s.plainBytes).map((p) => [p.offset, p.time]);
    return { protocol: PROTOCOL_VERSION, uuid, key, sha256: s.sha256, points };
  } finally {
    view.close();
  }
}

/** Streams one segment's plain bytes from `offset`. */
async function sendSegment(
  config: Config,
  uuid: string,
  key: string,
  offset: number,
  out: Writable,
): Promise<void> {
  // Only keys the archive lists are served: the key is looked up, never used to build a path blindly.
  const seg = listSegments(config, uuid).find((s) => s.key === key);
  if (!seg) throw new ExportNotFound(`domain ${uuid} has no segment ${key}`);
  if (offset > seg.plainBytes)
    throw new ExportNotFound(`offset ${offset} is past the end of ${key} (${seg.plainBytes} bytes)`);
  let stream;
  try {
    stream = openSegment(config, uuid, key, offset);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ExportNotFound(`segment ${key} was removed meanwhile`);
    throw e;
  }
  await pipeline(stream, out, { end: false });
}

/** Streams this host's live file of `device` (the path its domain.json records) from `offset`. */
async function sendLive(
  config: Config,
  uuid: string,
  host: string,
  device: string,
  offset: number,
  out: Writable,
): Promise<void> {
  // Live files are host-local (live_dir): a host exports its own only.
  if (host !== config.hostName)
    throw new ExportNotFound(`${config.hostName} exports its own live files, not those of ${host}`);
  const view = openDomainView(config, uuid);
  if (!view) throw new ExportNotFound(`domain ${uuid} has no live files on ${host}`);
  let path: string | undefined;
  try {
    path = viewDomainState(view).hosts[host]?.devices[device]?.path;
  } finally {
    view.close();
  }
  if (!path) throw new ExportNotFound(`domain ${uuid} has no live file of ${device} on ${host}`);
  const opened = openParentSafely(config, path);
  if ('refused' in opened) throw new UnsafePathError(opened.refused);
  if ('missing' in opened) throw new ExportNotFound(`no live file ${path}`);
  let fd: number;
  try {
    fd = opened.dir.open(opened.name, C.O_RDONLY | C.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ExportNotFound(`no live file ${path}`);
    throw e;
  } finally {
    opened.dir.close();
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new UnsafePathError(`${path} is not a regular file`);
  }
  // The file grows while we read: send what it held when asked, so the answer is well defined.
  const end = st.size;
  if (offset >= end) {
    fs.closeSync(fd);
    return;
  }
  await pipeline(fs.createReadStream('', { fd, start: offset, end: end - 1 }), out, { end: false });
}

/** Serves one request onto `out`. Throws ExportNotFound, UnsafePathError or I/O errors. */
export async function serveExport(config: Config, request: ExportRequest, out: Writable): Promise<void> {
  switch (request.verb) {
    case 'list': {
      const text = JSON.stringify(buildListing(config, request.uuid)) + '\n';
      await new Promise<void>((resolve, reject) => out.write(text, (e) => (e ? reject(e) : resolve())));
      return;
    }
    case 'get':
      return sendSegment(config, request.uuid, request.key, request.offset, out);
    case 'live':
      return sendLive(config, request.uuid, request.host, request.device, request.offset, out);
    case 'times': {
      const text = JSON.stringify(buildTimesOffer(config, request.uuid, request.key)) + '\n';
      await new Promise<void>((resolve, reject) => out.write(text, (e) => (e ? reject(e) : resolve())));
      return;
    }
  }
}
