// The read-only view of one domain's store, without its lock and without writes: what the reader,
// the export and status share. domain.json, sealed.json with the watermarks of newer sidecars
// replayed, the archive's listing, and the stamp that tells whether a writer was at work meanwhile.
import { CHAIN_STATE_FILE, parseChainState, withChainFilesSealed } from './chain-files.js';
import type { Config } from '../config/schema.js';
import { parseDomainState, type DomainState } from './domain-state.js';
import { ARCHIVE_NAME, DOMAIN_STATE_FILE, LOCK_NAME, SEAL_STATE_FILE } from './layout.js';
import type { SafeDir } from './safe-fs.js';
import {
  listArchive,
  listArchiveForReading,
  readSidecars,
  type ListedSegment,
  type SegmentInfo,
} from './segments.js';
import { keysToReplay, openDomainDir, replaySealState } from './store.js';
import { emptySealState, parseSealState, type SealState } from './watermarks.js';

/** A domain's folder and archive (undefined until a first seal made it), opened read-only. */
export interface DomainView {
  uuid: string;
  dir: SafeDir;
  archive: SafeDir | undefined;
  /** Closes the folder; the archive too unless `keepArchive` (a reader keeps reading segments). */
  close(keepArchive?: boolean): void;
}

/** Opens the view of `<log_root>/<uuid>/`; undefined if this store has no such domain. */
export function openDomainView(config: Config, uuid: string): DomainView | undefined {
  const dir = openDomainDir(config, uuid);
  if (!dir) return undefined;
  let archive: SafeDir | undefined;
  try {
    archive = dir.sub(ARCHIVE_NAME);
  } catch {
    archive = undefined;
  }
  return {
    uuid,
    dir,
    archive,
    close(keepArchive = false) {
      if (!keepArchive) archive?.close();
      dir.close();
    },
  };
}

export function viewDomainState(v: DomainView): DomainState {
  return parseDomainState(v.uuid, v.dir.readText(DOMAIN_STATE_FILE));
}

/**
 * sealed.json as last written (undefined: unreadable, or no archive yet). Read it BEFORE listing the
 * archive: a seal completing in between is then replayed from its sidecar, as after a crash, and
 * never counted as sealed without its segment in the listing.
 */
export function viewSealFile(v: DomainView): SealState | undefined {
  return v.archive ? parseSealState(v.dir.readText(SEAL_STATE_FILE)) : undefined;
}

/** The seal state a writer would see: `parsed` with the watermarks of the listed newer sidecars. */
export function replayedSealState(
  v: DomainView,
  parsed: SealState | undefined,
  listedKeys: readonly string[],
): SealState {
  if (!v.archive) return emptySealState();
  const state = replaySealState(parsed, readSidecars(v.archive, keysToReplay(parsed, listedKeys))).state;
  return withChainFilesSealed(state, parseChainState(v.dir.readText(CHAIN_STATE_FILE)));
}

/** The visible segments as readers list them (archive index first, sidecars for keys it lacks). */
export function viewListing(v: DomainView): { segments: ListedSegment[]; sidecarsRead: number } {
  return v.archive ? listArchiveForReading(v.archive) : { segments: [], sidecarsRead: 0 };
}

/** The visible segments with their whole sidecars (what a peer is shown). */
export function viewSegments(v: DomainView): SegmentInfo[] {
  return v.archive ? listArchive(v.archive) : [];
}

/**
 * What a writer changes: the lock folder (present while held), the state files (written by
 * rename: a new inode each time) and both folders' mtimes. Undefined while the lock is held.
 */
export function storeStamp(dir: SafeDir, archive: SafeDir | undefined): string | undefined {
  if (dir.lstat(LOCK_NAME)) return undefined;
  return [
    dir.selfStamp(),
    dir.stamp(DOMAIN_STATE_FILE),
    dir.stamp(SEAL_STATE_FILE),
    archive?.selfStamp(),
  ].join(' ');
}
