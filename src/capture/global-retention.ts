// global_cap_bytes without an operator: the capture service applies it every hour; without the
// service, the hook at `release end`, at most once an hour on this host (a stamp file's mtime).
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { listDomainUuids, readDomainStateOf } from '../store/find.js';
import { liveBytesOf, planRetention } from '../store/retention.js';
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

/** Deletes the oldest segments of any domain while the store is over global_cap_bytes, as `prune --all`. */
export async function applyGlobalCap(config: Config, now: Date, log: (m: string) => void): Promise<number> {
  if (config.globalCapBytes <= 0) return 0;
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
  const byDomain = new Map<string, string[]>();
  for (const d of plan.delete) byDomain.set(d.uuid, [...(byDomain.get(d.uuid) ?? []), d.key]);
  let deleted = 0;
  for (const [uuid, keys] of byDomain) {
    try {
      await withStore(config, uuid, (store) => {
        for (const k of keys) deleteSegment(store.archive, k);
        store.archive.fsync();
      });
      deleted += keys.length;
      log(`global_cap_bytes: deleted ${keys.length} oldest segment(s) of ${uuid}`);
    } catch (e) {
      log(`global_cap_bytes: ${uuid}: ${(e as Error).message}`);
    }
  }
  return deleted;
}

/** For the hook at release end: global_cap_bytes at most hourly, and only while no service runs. */
export async function hookGlobalRetention(
  config: Config,
  now: Date,
  log: (m: string) => void,
): Promise<void> {
  if (config.globalCapBytes <= 0) return;
  const status = readCaptureStatus(config);
  if (serviceVerdict(status, !!status && pidAlive(status.pid), now.getTime()).running) return;
  if (!claimHourly(config, now.getTime())) return;
  await applyGlobalCap(config, now, log);
}
