// Which logs get a reader chain, and how, at each event (pure).
import type { Config } from '../config/schema.js';
import type { DeviceState, HostState } from '../store/domain-state.js';
import type { SealStep } from '../lifecycle/decide-prepare.js';
import { readInPlace, type ChainMode } from './plan.js';

export interface ChainTarget {
  device: string;
  path: string;
  mode: ChainMode;
  /** A truncating start: once virtlogd opened the new log, a job lays the history out behind it. */
  afterStart?: true;
}

type ChainConfig = Pick<Config, 'chainLogs' | 'logRoot' | 'liveDir' | 'allowedRoots'>;

/**
 * At `prepare begin`, after the seal: a truncating start of a log read in place gets `clear` and a
 * layout after the start; a
 * guest arriving back on a host it left by migration gets `clear` for its stale files, but only
 * with a store private to this host (on shared instance storage the file is the source's live log).
 */
export function chainTargetsAtPrepare(input: {
  config: ChainConfig;
  seal: readonly SealStep[];
  devices: Readonly<Record<string, DeviceState>>;
  prev: HostState;
  continuing: boolean;
  /** domain.json names another host: the store (and likely the instance folder) is shared. */
  sharedStore: boolean;
}): ChainTarget[] {
  const { config } = input;
  if (!config.chainLogs) return [];
  if (input.continuing) {
    if (input.sharedStore || input.prev.lastEvent?.kind !== 'release') return [];
    return Object.entries(input.devices)
      .filter(([, d]) => d.kind === 'log' && readInPlace(config, d.path))
      .map(([device, d]) => ({ device, path: d.path, mode: 'clear' as const }));
  }
  return input.seal
    .filter((s) => s.reason === 'restart' && s.truncateNext && readInPlace(config, s.path))
    .map((s) => ({ device: s.device, path: s.path, mode: 'clear' as const, afterStart: true as const }));
}

/** After a history fetch: the logs read in place of a guest running on this host. */
export function chainTargetsAfterFetch(config: ChainConfig, here: HostState): ChainTarget[] {
  if (!config.chainLogs || here.lastEvent?.kind !== 'prepare') return [];
  return Object.entries(here.devices)
    .filter(([, d]) => readInPlace(config, d.path))
    .map(([device, d]) => ({ device, path: d.path, mode: 'arrival' as const }));
}
