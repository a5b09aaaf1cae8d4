// Where things live in state_dir (host-local): host-wide files at its top (journal.log,
// host-facts.json, reloaded-DAEMON, the transfer key) and everything about one domain in
// `<state_dir>/domains/<uuid>/`. Pure: names and paths. Modules take their paths from
// domain-files.ts, which first moves a host's older layout into place.
import { posix } from 'node:path';
import { domainUuid } from '../store/layout.js';

export const DOMAINS_DIR = 'domains';

/** The files of one domain's state folder, by what they hold. */
export const DOMAIN_FILES = {
  /** Ids of boot markers appended while the store could not be used (store/waiting-markers.ts). */
  waitingBootMarkers: 'boot-markers.waiting',
  /** The pending automatic-mode job's pid (definitions/job-lock.ts). */
  autoEnableJob: 'auto-enable.pid',
  /** Present after `disable`: the automatic mode leaves the domain alone (definitions/optout.ts). */
  optOut: 'disabled',
  /** The history fetch record (transfer/state.ts); its proper-lockfile lock sits beside it. */
  fetchRecord: 'fetch.json',
  /** Written at `migrate begin`, taken at `prepare begin`: this start is an arrival (transfer/start.ts). */
  incomingMigration: 'incoming',
  /** Folder of partial downloads, `<key>.<sha16>.part` (transfer/fetch.ts). */
  partialDownloads: 'fetch.partial',
} as const;
export type DomainFile = keyof typeof DOMAIN_FILES;

/** Pure: `<state_dir>/domains/<uuid>`. */
export function domainStateDirPath(stateDir: string, uuid: string): string {
  return posix.join(stateDir, DOMAINS_DIR, domainUuid(uuid));
}

/** Pure: the path of one of a domain's state files. */
export function domainFilePath(stateDir: string, uuid: string, what: DomainFile): string {
  return posix.join(domainStateDirPath(stateDir, uuid), DOMAIN_FILES[what]);
}

/**
 * Pure: the older layout (before per-domain folders), as folder below state_dir, a pattern whose
 * first group is the UUID, and the file it becomes.
 */
export const LEGACY_LAYOUT: readonly { dir: string; name: RegExp; to: DomainFile }[] = [
  { dir: 'markers', name: /^([0-9a-f-]{36})\.unrecorded$/, to: 'waitingBootMarkers' },
  { dir: 'definitions/auto-enable', name: /^([0-9a-f-]{36})\.pid$/, to: 'autoEnableJob' },
  { dir: 'definitions/disabled', name: /^([0-9a-f-]{36})$/, to: 'optOut' },
  { dir: 'transfer', name: /^([0-9a-f-]{36})\.json$/, to: 'fetchRecord' },
  { dir: 'transfer', name: /^([0-9a-f-]{36})\.incoming$/, to: 'incomingMigration' },
  { dir: 'transfer', name: /^([0-9a-f-]{36})\.partial$/, to: 'partialDownloads' },
];

/** Folders of the older layout, deepest first (removed once empty). */
export const LEGACY_DIRS = [
  'markers',
  'definitions/auto-enable',
  'definitions/disabled',
  'definitions',
  'transfer',
];
