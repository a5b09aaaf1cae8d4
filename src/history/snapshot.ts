// A snapshot of a domain's history without the store's lock: sealed.json, the archive listing and
// replayed watermarks, domain.json, live files opened by fd (rotation cannot pull them away) with
// their unsealed tails scanned for markers. Kept only when no writer was at work meanwhile.
import * as fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { hostState, knownMarkerIds, type DomainState, type DeviceState } from '../store/domain-state.js';
import { openLiveParent, openLiveRotationSet, readAt } from '../store/files.js';
import { DomainLookupError, resolveOneDomain } from '../store/find.js';
import { isInside } from '../store/layout.js';
import { withDomainLock } from '../store/lock.js';
import { MarkerScanner, resumedBoot, type BootMark } from '../store/markers.js';
import {
  openDomainView,
  replayedSealState,
  storeStamp,
  viewDomainState,
  viewListing,
  viewSealFile,
} from '../store/view.js';
import { findTracked, headHash, unsealedStart, type SealState } from '../store/watermarks.js';
import { plainBytes } from './content.js';
import { listBoots, mergeHistory, type LiveTail } from './merge.js';
import { CHUNK, HistoryError, type History } from './types.js';

/** Devices known for a domain, serial0 first. */
export function knownDevices(state: DomainState, segments: readonly { device: string }[]): string[] {
  const set = new Set<string>();
  for (const h of Object.values(state.hosts)) for (const d of Object.keys(h.devices)) set.add(d);
  for (const s of segments) set.add(s.device);
  const rank = (d: string) => (d.startsWith('serial') ? 0 : d.startsWith('console') ? 1 : 2);
  return [...set].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true }));
}

/** Resolves a name or UUID to exactly one domain of the store (HistoryError otherwise). */
export function resolveOne(
  config: Config,
  domain: string,
): { uuid: string; state: DomainState; name?: string } {
  try {
    return resolveOneDomain(config, domain);
  } catch (e) {
    if (e instanceof DomainLookupError) throw new HistoryError(e.message, e.code);
    throw e;
  }
}

/** Opens a snapshot of a domain's history for one device (default serial0, else the first). */
export async function openHistory(config: Config, domain: string, device?: string): Promise<History> {
  const { uuid, name } = resolveOne(config, domain);
  // No lock first: the snapshot is kept when no writer held the lock or touched the state files
  // and folders while it was taken (then it is what a locked snapshot would have been).
  for (let attempt = 0; attempt < 3; attempt++) {
    const h = snapshotHistory(config, uuid, name, device, true);
    if (typeof h === 'object') return h;
    if (h === 'locked') break;
  }
  const snapshot = () => snapshotHistory(config, uuid, name, device, false) as History;
  // A writer is at work: a brief lock waits for it; readers without write access to the store (or
  // a stuck lock) read without it.
  try {
    return await withDomainLock(config, uuid, snapshot, { waitMs: Math.min(config.lockWaitMs, 2000) });
  } catch (e) {
    if (e instanceof HistoryError) throw e;
    return snapshot();
  }
}

/** Opens the history, streams what `read` yields from it, and closes it however the stream ends. */
export async function* readOpenHistory<T>(
  config: Config,
  domain: string,
  device: string | undefined,
  read: (h: History) => AsyncIterable<T>,
): AsyncGenerator<T> {
  const h = await openHistory(config, domain, device);
  try {
    yield* read(h);
  } finally {
    h.close();
  }
}

/**
 * Takes a snapshot. `optimistic` (no lock held): 'locked' when a writer holds the lock, 'changed'
 * when one wrote while the snapshot was taken (the caller tries again).
 */
function snapshotHistory(
  config: Config,
  uuid: string,
  name: string | undefined,
  device: string | undefined,
  optimistic: boolean,
): History | 'locked' | 'changed' {
  const view = openDomainView(config, uuid);
  if (!view) throw new HistoryError(`no history for ${uuid}`, 'not-found');
  const { dir, archive } = view;
  const fds = new Map<string, number>();
  let kept = false;
  try {
    const before = optimistic ? storeStamp(dir, archive) : '';
    if (before === undefined) return 'locked';
    const parsedSeal = viewSealFile(view);
    const { segments, sidecarsRead } = viewListing(view);
    const seal = replayedSealState(
      view,
      parsedSeal,
      segments.map((s) => s.key),
    );
    const state = viewDomainState(view);
    const devices = knownDevices(state, segments);
    const chosen = device ?? devices[0];
    if (!chosen) throw new HistoryError(`domain ${uuid} has no logged device yet`, 'no-device');
    if (device && !devices.includes(device))
      throw new HistoryError(
        `domain ${uuid} has no device ${device} (known: ${devices.join(', ') || 'none'})`,
        'no-device',
      );
    const buffers = { plain: Buffer.allocUnsafe(CHUNK) };
    const live: LiveTail[] = [];
    const known = knownMarkerIds(state);
    let followFrom: History['followFrom'];
    for (const [host, h] of Object.entries(state.hosts)) {
      const d = h.devices[chosen];
      if (!d) continue;
      // Another host's live_dir file is on that host's disk (a shared store): what is here is ours.
      if (host !== config.hostName && isInside(config.liveDir, d.path)) continue;
      const r = liveTails(
        config,
        seal,
        host,
        hostState(state, host).generation,
        chosen,
        d,
        fds,
        known,
        buffers.plain,
      );
      const first = r.tails[0];
      // A fast guest can outrun virtlogd's backups: the file holding the current boot's marker is gone.
      const resumed =
        first &&
        resumedBoot(
          d.boot,
          first.start,
          (id) =>
            r.tails.some((x) => x.boots.some((b) => b.id === id)) ||
            segments.some((x) => x.device === chosen && x.boots.some((b) => b.id === id)),
        );
      if (first && resumed) first.boots.unshift(resumed);
      live.push(...r.tails);
      if (host === config.hostName && r.base) followFrom = r.base;
    }
    if (optimistic && storeStamp(dir, archive) !== before) return 'changed';
    const pieces = mergeHistory(segments, live, chosen);
    const opened = archive;
    const history: History = {
      uuid,
      name,
      device: chosen,
      devices,
      state,
      segments,
      pieces,
      boots: listBoots(pieces),
      fds,
      ...(followFrom ? { followFrom } : {}),
      archive,
      config,
      sidecarsRead,
      buffers,
      close() {
        for (const fd of fds.values()) fs.closeSync(fd);
        fds.clear();
        opened?.close();
      },
    };
    kept = true;
    return history;
  } finally {
    if (!kept) for (const fd of fds.values()) fs.closeSync(fd);
    view.close(kept);
  }
}

/** The unsealed tails of a device's live files on this machine, markers scanned. */
function liveTails(
  config: Config,
  seal: SealState,
  host: string,
  generation: number,
  device: string,
  d: DeviceState,
  fds: Map<string, number>,
  known: Set<string>,
  buf: Buffer,
): { tails: LiveTail[]; base?: { dev: number; ino: number; size: number } } {
  const opened = openLiveParent(config, d.path);
  if (!('dir' in opened)) return { tails: [] };
  const out: LiveTail[] = [];
  let base: { dev: number; ino: number; size: number } | undefined;
  try {
    const { files } = openLiveRotationSet(opened.dir, opened.name);
    files.forEach(({ file, fd, st }, order) => {
      const key = `${st.dev}:${st.ino}`;
      if (fds.has(key)) {
        fs.closeSync(fd);
        return;
      }
      fds.set(key, fd);
      if (file === opened.name) base = { dev: st.dev, ino: st.ino, size: st.size };
      const id = {
        dev: st.dev,
        ino: st.ino,
        birthtimeMs: Math.floor(st.birthtimeMs),
        size: st.size,
        ctimeMs: st.ctimeMs,
      };
      const tracked = findTracked(seal, id, host);
      const { start, rewritten, truncated } = unsealedStart(tracked, id, (len) =>
        headHash(readAt(fd, len, 0)),
      );
      if (st.size <= start) return;
      const scan = new MarkerScanner(start);
      for (const chunk of plainBytes(fd, start, st.size, buf)) scan.feed(chunk);
      const boots: BootMark[] = scan.marks.filter((m) => known.has(m.id));
      // Only the file the start truncated begins the boot (any later file begins where virtlogd's
      // rotation cut, often mid-line); a boot whose start is in no kept file resumes (resumedBoot).
      if (d.truncating && truncated && d.boot && boots[0]?.offset !== start)
        boots.unshift({ offset: start, id: d.boot.id, host: d.boot.host, at: d.boot.at, markerBytes: 0 });
      out.push({
        host,
        device,
        generation,
        path: opened.dir.display(file),
        dev: st.dev,
        ino: st.ino,
        order,
        start,
        end: st.size,
        lines: scan.lines,
        boots,
        firstTime: (!rewritten && tracked?.updated) || d.boot?.at || st.birthtime.toISOString(),
        lastTime: st.mtime.toISOString(),
      });
    });
  } finally {
    opened.dir.close();
  }
  return { tails: out, ...(base ? { base } : {}) };
}
