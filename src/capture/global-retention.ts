// Host-wide retention without an operator: the capture service applies it every hour; without the
// service, the hook at `release end`, at most once an hour on this host (a stamp file's mtime).
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { listDomainUuids, readDomainStateOf } from '../store/find.js';
import { liveBytesOf, planRetention, type RetentionPlan } from '../store/retention.js';
import { compactTimesFile } from '../store/times-files.js';
import { forgetCandidates } from './undefined-retention.js';
import { withStore } from '../store/session.js';
import { deleteSegment, listSegments } from '../store/segments.js';
import { pidAlive } from '../util/pid.js';
import { readCaptureStatus, serviceVerdict } from './status.js';

export const HOURLY_MS = 3600_000;

/** Whether an hourly run is due (pure): never ran, or the last one is at least an hour old. */
export function hourlyDue(lastMs: number | undefined, now: number): boolean {
  return lastMs === undefined || !(now - lastMs < HOURLY_MS) || lastMs > now;
}

const stampPath = (config: Config) => posix.join(config.stateDir, 'capture', 'global-retention');

/** Takes this hour's turn (touches the stamp) when due; false when another run had it. */
export function claimHourly(config: Config, now: number): boolean {
  const path = stampPath(config);
  let last: number | undefined;
  try {
    last = fs.statSync(path).mtimeMs;
  } catch {
    last = undefined;
  }
  if (!hourlyDue(last, now)) return false;
  fs.mkdirSync(posix.dirname(path), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path, new Date(now).toISOString() + '\n', { mode: 0o600 });
  return true;
}

/** What a host-wide retention step did: segments deleted (or that would be), and domains it failed on. */
export interface GlobalCapResult {
  deleted: RetentionPlan['delete'];
  failed: { uuid: string; message: string }[];
}

/**
 * Deletes the oldest segments of any domain while the store is over global_cap_bytes (`prune
 * --all`, the service, the hook). With dryRun, only says what it would delete.
 */
export async function applyGlobalCap(
  config: Config,
  now: Date,
  log: (m: string) => void,
  opts: { dryRun?: boolean } = {},
): Promise<GlobalCapResult> {
  const result: GlobalCapResult = { deleted: [], failed: [] };
  if (config.globalCapBytes <= 0) return result;
  const uuids = listDomainUuids(config);
  const plan = planRetention({
    segments: uuids.flatMap((uuid) =>
      listSegments(config, uuid).map((s) => ({
        uuid,
        key: s.key,
        storedBytes: s.storedBytes + s.sidecarBytes,
        lastTime: s.lastTime,
      })),
    ),
    liveBytes: Object.fromEntries(
      uuids.map((u) => {
        const st = readDomainStateOf(config, u);
        return [u, st ? liveBytesOf(config, st) : 0];
      }),
    ),
    domainCapBytes: 0,
    globalCapBytes: config.globalCapBytes,
    retentionDays: 0,
    now,
  });
  if (opts.dryRun) return { ...result, deleted: plan.delete };
  const byDomain = new Map<string, RetentionPlan['delete']>();
  for (const d of plan.delete) byDomain.set(d.uuid, [...(byDomain.get(d.uuid) ?? []), d]);
  for (const [uuid, dels] of byDomain) {
    try {
      await withStore(config, uuid, (store) => {
        for (const d of dels) deleteSegment(store.archive, d.key);
        store.archive.fsync();
        compactTimesFile(store);
      });
      result.deleted.push(...dels);
      log(`global_cap_bytes: deleted ${dels.length} oldest segment(s) of ${uuid}`);
    } catch (e) {
      result.failed.push({ uuid, message: (e as Error).message });
      log(`global_cap_bytes: ${uuid}: ${(e as Error).message}`);
    }
  }
  return result;
}

/**
 * For the hook at release end, at most hourly and only while no service runs: global_cap_bytes,
 * and, when some domain's history is older than undefined_retention_days, `startForgetJob` (the
 * hook may not ask libvirt which domains it still lists: a detached job does).
 */
export async function hookGlobalRetention(
  config: Config,
  now: Date,
  log: (m: string) => void,
  startForgetJob: () => Promise<void> = async () => undefined,
): Promise<void> {
  if (config.globalCapBytes <= 0 && !(config.undefinedRetentionDays > 0)) return;
  const status = readCaptureStatus(config);
  if (serviceVerdict(status, !!status && pidAlive(status.pid), now.getTime()).running) return;
  if (!claimHourly(config, now.getTime())) return;
  await applyGlobalCap(config, now, log);
  if (forgetCandidates(config, now).length) await startForgetJob();
}
