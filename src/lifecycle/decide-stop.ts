// What `stopped end` / `release end` do (pure): the reason recorded with the sealed segments.
import type { DomainState } from '../store/domain-state.js';

/** Shutoff reasons libvirt >= 10.5 passes as the 4th argument of `release end`. */
const KNOWN = new Set([
  'unknown',
  'shutdown',
  'destroyed',
  'crashed',
  'migrated',
  'saved',
  'failed',
  'from snapshot',
  'daemon',
]);

export interface StopPlan {
  reason: string;
  /** Whether the reason came from libvirt or was inferred. */
  inferred: boolean;
  seal: boolean;
  /** Compression and retention run once per stop, on `release end`. */
  retention: boolean;
}

export function decideStop(
  kind: 'stopped' | 'release',
  extra: string,
  state: DomainState,
  host: string,
): StopPlan {
  const retention = kind === 'release';
  if (extra !== '-' && KNOWN.has(extra))
    return { reason: extra.replace(' ', '-'), inferred: false, seal: true, retention };
  // Older libvirt: a newer generation prepared on another host means the guest left by migration.
  const mine = state.hosts[host]?.generation ?? 0;
  const movedOn = Object.entries(state.hosts).some(([h, s]) => h !== host && s.generation > mine);
  return {
    reason: movedOn ? 'migrated' : kind === 'stopped' ? 'stop' : 'unknown',
    inferred: true,
    seal: true,
    retention,
  };
}
