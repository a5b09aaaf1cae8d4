// What `release end` does (pure): the reason recorded with the sealed segments.
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
}

/** `extra` is release end's 4th argument: the shutoff reason (libvirt >= 10.5), else "-". */
export function decideStop(extra: string, state: DomainState, host: string): StopPlan {
  if (extra !== '-' && KNOWN.has(extra)) return { reason: extra.replace(' ', '-'), inferred: false };
  // Older libvirt: a newer generation prepared on another host means the guest left by migration.
  const mine = state.hosts[host]?.generation ?? 0;
  const movedOn = Object.entries(state.hosts).some(([h, s]) => h !== host && s.generation > mine);
  return { reason: movedOn ? 'migrated' : 'stop', inferred: true };
}
