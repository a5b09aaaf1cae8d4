// The arrival times of fetched segments: asks the peer (`times UUID KEY`) for the points of the
// segments this store imported from it and lacks times for, checks them point by point, and
// appends them to imported-times.jsonl under the store lock. Never fails a fetch: a peer that
// predates the request, or sends garbage, leaves those lines with coarse times, said in the log.
import * as fs from 'node:fs';
import type { Config } from '../config/schema.js';
import {
  IMPORTED_TIMES_FILE,
  checkPeerPoints,
  identityKey,
  identityOf,
  importedLine,
  parseImported,
  type SegmentIdentity,
} from '../capture/imported-times.js';
import type { TimePoint } from '../capture/times.js';
import { withDomainLock } from '../store/lock.js';
import { listSegments } from '../store/segments.js';
import { openDomainView } from '../store/view.js';
import { ensureDomainDir } from '../store/store.js';
import { ProtocolError, parseTimesOffer, type ListedSegment, type Listing } from './protocol.js';
import { callPeerText } from './transport.js';

function readImported(config: Config, uuid: string): Map<string, TimePoint[]> {
  const view = openDomainView(config, uuid);
  if (!view) return new Map();
  try {
    return parseImported(view.dir.readText(IMPORTED_TIMES_FILE) ?? '');
  } finally {
    view.close();
  }
}

/** Listed segments that are imports here without imported times yet, by their identity (pure). */
export function segmentsWantingTimes(
  listing: Listing,
  importedHere: ReadonlySet<string>,
  timed: ReadonlySet<string>,
): Map<string, { seg: ListedSegment; id: SegmentIdentity }> {
  const out = new Map<string, { seg: ListedSegment; id: SegmentIdentity }>();
  for (const seg of listing.segments) {
    const from = seg.sidecar.importedFrom as { host?: unknown; key?: unknown } | undefined;
    // As identityOf reads the copy of this sidecar here (an import of an import keeps both fields).
    const id = identityOf({
      key: seg.key,
      host: seg.host,
      sha256: seg.sha256,
      trimmedFrom: seg.sidecar.trimmedFrom,
      importedFrom:
        typeof from?.host === 'string' && typeof from.key === 'string'
          ? { host: from.host, key: from.key }
          : undefined,
    });
    const k = identityKey(id);
    if (importedHere.has(k) && !timed.has(k)) out.set(seg.key, { seg, id });
  }
  return out;
}

/** The origin offset of a listed segment's byte 0 (its sidecar's origin.start), if sound. */
function originStart(seg: ListedSegment): number | undefined {
  const start = (seg.sidecar.origin as { start?: unknown } | undefined)?.start;
  return typeof start === 'number' && Number.isSafeInteger(start) && start >= 0 ? start : undefined;
}

/**
 * Imports the peer's times for the segments of `listing` imported here without times. Returns
 * how many segments got points. Identities in `asked` (this run's earlier calls) are not asked
 * again. Logs, never throws for what the peer does.
 */
export async function importPeerTimes(
  config: Config,
  uuid: string,
  peer: string,
  listing: Listing,
  log: (line: string) => void,
  asked: Set<string> = new Set(),
  now = Date.now(),
): Promise<number> {
  const importedHere = new Set(
    listSegments(config, uuid)
      .filter((s) => s.importedFrom)
      .map((s) => identityKey(identityOf(s))),
  );
  const wanted = segmentsWantingTimes(listing, importedHere, new Set(readImported(config, uuid).keys()));
  // Asked once per run: a peer without times (older, or none recorded) is not asked at every poll.
  for (const [key, w] of wanted) if (asked.has(identityKey(w.id))) wanted.delete(key);
  if (!wanted.size) return 0;
  for (const w of wanted.values()) asked.add(identityKey(w.id));
  let lines = '';
  let dropped = 0;
  for (const [key, w] of wanted) {
    let offer;
    try {
      const text = await callPeerText(config, peer, ['times', uuid, key], {
        timeoutMs: config.transferTimeoutSeconds * 1000,
      });
      offer = parseTimesOffer(text, uuid, key);
    } catch (e) {
      if (e instanceof ProtocolError) {
        log(`${peer}: arrival times of ${key} refused (${e.message}): its lines keep coarse times`);
        continue;
      }
      // An older peer refuses every `times`; one unreachable now fails them all: ask again next run.
      log(`${peer}: no arrival times offered (${(e as Error).message}): its lines keep coarse times`);
      break;
    }
    const start = originStart(w.seg);
    if (offer.sha256 !== w.seg.sha256 || start === undefined) continue;
    const checked = checkPeerPoints(offer.points, w.seg.bytes, now);
    dropped += checked.dropped;
    if (!checked.points.length) continue;
    lines += importedLine(
      w.id,
      checked.points.map((p) => ({ offset: start + p.offset, time: p.time })),
    );
  }
  if (dropped) log(`${peer}: ${dropped} arrival time point(s) failed the checks: dropped`);
  if (!lines) return 0;
  ensureDomainDir(config, uuid).close();
  return withDomainLock(config, uuid, () => {
    // Another fetch may have added some meanwhile: only identities still missing are appended.
    const have = readImported(config, uuid);
    const fresh = lines
      .split('\n')
      .filter((l) => l !== '' && ![...parseImported(l).keys()].some((k) => have.has(k)));
    if (!fresh.length) return 0;
    const dir = ensureDomainDir(config, uuid);
    try {
      const fd = dir.open(
        IMPORTED_TIMES_FILE,
        fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT,
        config.logFileMode,
      );
      try {
        // One append: a reader without the lock that meets a torn line skips it (parseImported).
        fs.writeSync(fd, fresh.map((l) => l + '\n').join(''));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      dir.close();
    }
    return fresh.length;
  });
}
