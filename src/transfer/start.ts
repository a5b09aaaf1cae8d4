// What hooks need of the transfer besides the fetch record: the hosts to ask (fetchCandidates) and
// the incoming-migration mark (`migrate begin` writes it, `prepare begin` takes it). Scheduling the
// detached fetch job is the lifecycle's (src/lifecycle/history-fetch.ts).
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { domainFile } from '../state/domain-files.js';

/**
 * Hosts that may hold the earlier history, best first: the metadata hint, then the configured
 * peers (a hint can be missing, or stale after a restart from a persistent definition).
 */
export function fetchCandidates(config: Config, previousHost: string | undefined): string[] {
  return [...new Set([...(previousHost ? [previousHost] : []), ...config.peers])].filter(
    (p) => p !== config.hostName,
  );
}

/** How long after `migrate begin` the destination's `prepare begin` still counts as that migration's. */
const INCOMING_WINDOW_MS = 10 * 60 * 1000;

function incomingPath(stateDir: string, uuid: string): string {
  return domainFile(stateDir, uuid, 'incomingMigration');
}

/** Notes (at `migrate begin`) that the next `prepare begin` of this domain is an arrival, not a boot. */
export function markIncomingMigration(config: Config, uuid: string, now: Date): void {
  const path = incomingPath(config.stateDir, uuid);
  fs.mkdirSync(posix.dirname(path), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path, now.toISOString() + '\n', { mode: 0o600 });
}

/**
 * For `prepare begin`: true (once) when this start is the arrival of an incoming live migration,
 * which continues the guest's running boot: no boot marker must be written then (a marker there
 * would cut the line the guest was printing at the switchover in two).
 */
export function takeIncomingMigration(config: Config, uuid: string, now: Date): boolean {
  const path = incomingPath(config.stateDir, uuid);
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
    fs.unlinkSync(path);
  } catch {
    return false;
  }
  const at = Date.parse(text.trim());
  return Number.isFinite(at) && now.getTime() - at >= -60_000 && now.getTime() - at < INCOMING_WINDOW_MS;
}
