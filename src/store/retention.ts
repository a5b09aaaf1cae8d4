// Retention: per-domain cap (live + archive), global cap, retention_days. Oldest segments go
// first; live files (virtlogd's, still being written) are never deleted, only counted.
import * as fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { ARCHIVE_NAME, DOMAIN_STATE_FILE, INDEX_NAME, SEAL_STATE_FILE } from './layout.js';
import { openDomainDir } from './store.js';
import { inHistoryOrder, rotationSet } from './layout.js';
import { compressSegment } from './segment-content.js';
import { deleteSegment, listArchive, refreshIndex, type SegmentInfo } from './segments.js';
import type { LockedStore } from './session.js';
import { openParentSafely } from './files.js';
import type { DomainState } from './domain-state.js';
import { compactTimesFile, timesBytes } from './times-files.js';

export interface RetentionSegment {
  uuid: string;
  key: string;
  storedBytes: number;
  lastTime: string;
  /** The sidecar's orderGeneration: where the segment sorts in history (layout.ts segmentSortKey). */
  orderGeneration?: number;
}

export interface RetentionInput {
  segments: RetentionSegment[];
  /** Live bytes per domain (counted against caps, never deleted). */
  liveBytes: Record<string, number>;
  domainCapBytes: number;
  globalCapBytes: number;
  retentionDays: number;
  now: Date;
}

export interface RetentionPlan {
  delete: { uuid: string; key: string; bytes: number; why: 'age' | 'domain cap' | 'global cap' }[];
  /** Domains still over their cap after deleting every segment (live files alone exceed it). */
  overCap: { uuid: string; bytes: number }[];
}

/** Pure: which segments to delete. Segment order within a domain is history order (segmentSortKey). */
export function planRetention(input: RetentionInput): RetentionPlan {
  const plan: RetentionPlan = { delete: [], overCap: [] };
  const gone = new Set<string>();
  const del = (s: RetentionSegment, why: RetentionPlan['delete'][number]['why']) => {
    gone.add(`${s.uuid}/${s.key}`);
    plan.delete.push({ uuid: s.uuid, key: s.key, bytes: s.storedBytes, why });
  };
  const alive = () => input.segments.filter((s) => !gone.has(`${s.uuid}/${s.key}`));
  if (input.retentionDays > 0) {
    const limit = input.now.getTime() - input.retentionDays * 86400_000;
    for (const s of input.segments) if (Date.parse(s.lastTime) < limit) del(s, 'age');
  }
  const uuids = [...new Set([...input.segments.map((s) => s.uuid), ...Object.keys(input.liveBytes)])];
  if (input.domainCapBytes > 0) {
    for (const uuid of uuids) {
      const segs = inHistoryOrder(alive().filter((s) => s.uuid === uuid));
      let total = (input.liveBytes[uuid] ?? 0) + segs.reduce((n, s) => n + s.storedBytes, 0);
      for (const s of segs) {
        if (total <= input.domainCapBytes) break;
        del(s, 'domain cap');
        total -= s.storedBytes;
      }
      if (total > input.domainCapBytes) plan.overCap.push({ uuid, bytes: total });
    }
  }
  if (input.globalCapBytes > 0) {
    const segs = alive().sort((a, b) =>
      a.lastTime < b.lastTime ? -1 : a.lastTime > b.lastTime ? 1 : a.key < b.key ? -1 : 1,
    );
    let total =
      Object.values(input.liveBytes).reduce((n, b) => n + b, 0) + segs.reduce((n, s) => n + s.storedBytes, 0);
    for (const s of segs) {
      if (total <= input.globalCapBytes) break;
      del(s, 'global cap');
      total -= s.storedBytes;
    }
  }
  return plan;
}

/** virtlogd.conf, whose max_size and max_backups bound each live log it writes. */
export const VIRTLOGD_CONF = '/etc/libvirt/virtlogd.conf';

/** virtlogd's bound on one log's rotation set (max_size x (max_backups + 1)); 0 = unbounded. */
export function virtlogdBound(confText: string | undefined): number {
  const get = (k: string, dflt: number) => {
    const m = new RegExp(`^\\s*${k}\\s*=\\s*(\\d+)\\s*(#.*)?$`, 'm').exec(confText ?? '');
    return m ? Number(m[1]) : dflt;
  };
  const maxSize = get('max_size', 2 * 1024 * 1024);
  return maxSize === 0 ? 0 : maxSize * (get('max_backups', 3) + 1);
}

function readVirtlogdConf(): string | undefined {
  try {
    return fs.readFileSync(process.env.VIRT_CONSOLELOG_VIRTLOGD_CONF || VIRTLOGD_CONF, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Bytes of a domain's live files readable on this host (every host's, on a shared store), plus
 * domain.json, sealed.json, the archive index and the capture service's times files. With `reserve`, each virtlogd log of this host counts at least
 * virtlogd's bound, so the archive leaves room for the running guest's logs to fill up.
 */
export function liveBytesOf(config: Config, state: DomainState, reserve = false): number {
  let total = 0;
  const seen = new Set<string>();
  const bound = reserve ? virtlogdBound(readVirtlogdConf()) : 0;
  for (const [host, h] of Object.entries(state.hosts)) {
    for (const d of Object.values(h.devices)) {
      const opened = openParentSafely(config, d.path);
      let size = 0;
      if ('dir' in opened) {
        try {
          for (const f of rotationSet(opened.name, opened.dir.list())) {
            const st = opened.dir.lstat(f);
            if (!st?.isFile() || seen.has(`${st.dev}:${st.ino}`)) continue;
            seen.add(`${st.dev}:${st.ino}`);
            size += st.size;
          }
        } finally {
          opened.dir.close();
        }
      }
      total += reserve && host === config.hostName && d.kind === 'log' ? Math.max(size, bound) : size;
    }
  }
  const dir = openDomainDir(config, state.uuid);
  if (dir) {
    try {
      for (const f of [DOMAIN_STATE_FILE, SEAL_STATE_FILE]) total += dir.lstat(f)?.size ?? 0;
      total += timesBytes(dir);
      if (dir.lstat(ARCHIVE_NAME)?.isDirectory()) {
        const archive = dir.sub(ARCHIVE_NAME);
        try {
          total += archive.lstat(INDEX_NAME)?.size ?? 0;
        } finally {
          archive.close();
        }
      }
    } finally {
      dir.close();
    }
  }
  return total;
}

export interface RetentionResult {
  compressed: { key: string; saved: number }[];
  deleted: RetentionPlan['delete'];
  overCap?: number;
}

/**
 * Under the lock: compress plain segments of at least config.compressMinBytes, then apply the
 * domain cap and retention_days to this domain (the global cap is applied by pruneAll), then bring
 * the archive index in line with the sidecars.
 * `reserveBytes` keeps room for segments about to be sealed, so the cap holds at every moment.
 */
export async function applyDomainRetention(
  store: LockedStore,
  now: Date,
  opts: { dryRun?: boolean; reserveBytes?: number; compress?: boolean } = {},
): Promise<RetentionResult> {
  const { config } = store;
  const dryRun = !!opts.dryRun;
  const result: RetentionResult = { compressed: [], deleted: [] };
  let segments: SegmentInfo[] = listArchive(store.archive);
  if (!dryRun && opts.compress !== false && config.compressMinBytes >= 0) {
    for (const s of segments) {
      if (s.compressed || s.storedBytes < config.compressMinBytes) continue;
      if (store.signal.aborted) break;
      const saved = await compressSegment(store.archive, s.key, config.logFileMode);
      if (saved > 0) result.compressed.push({ key: s.key, saved });
    }
    if (result.compressed.length) segments = listArchive(store.archive);
  }
  const plan = planRetention({
    segments: segments.map((s) => ({
      uuid: store.uuid,
      key: s.key,
      storedBytes: s.storedBytes + s.sidecarBytes,
      lastTime: s.lastTime,
      ...(s.orderGeneration !== undefined ? { orderGeneration: s.orderGeneration } : {}),
    })),
    liveBytes: { [store.uuid]: liveBytesOf(config, store.domain, true) + (opts.reserveBytes ?? 0) },
    domainCapBytes: config.domainCapBytes,
    globalCapBytes: 0,
    retentionDays: config.retentionDays,
    now,
  });
  if (!dryRun) {
    for (const d of plan.delete) deleteSegment(store.archive, d.key);
    const gone = new Set(plan.delete.map((d) => d.key));
    const kept = segments.filter((s) => !gone.has(s.key));
    if (plan.delete.length) {
      store.archive.fsync();
      // The time points of what was deleted go too (they count against the cap as well).
      compactTimesFile(store, kept);
    }
    // The sidecars were just read: the archive index is checked against them (and rewritten if off).
    refreshIndex(store.archive, kept, config.logFileMode);
  }
  result.deleted = plan.delete;
  if (plan.overCap[0]) result.overCap = plan.overCap[0].bytes;
  return result;
}

/** Total size of the store's folder for a domain (for status): live + archive as on disk. */
export function archiveBytes(segments: readonly SegmentInfo[]): number {
  return segments.reduce((n, s) => n + s.storedBytes, 0);
}
