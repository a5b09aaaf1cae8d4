// The store's front door: a session on one domain's store under its lock (withStore: state files
// loaded, crash leftovers repaired, waiting boot markers merged, state saved after the caller), and
// how hooks tell a store they cannot use now from a bug (storeUnusable).
import type { Config } from '../config/schema.js';
import { withMarkers, type DomainState } from './domain-state.js';
import { LockTimeoutError, withDomainLock, type LockInfo } from './lock.js';
import type { SafeDir } from './safe-fs.js';
import { cleanArchive } from './segments.js';
import { signalDomainsChanged } from './domains-changed.js';
import {
  domainStateText,
  ensureDomainDir,
  readDomainStateChecked,
  readSealState,
  sealStateText,
  writeDomainState,
  writeSealState,
} from './store.js';
import { forgetWaitingMarkers, readWaitingMarkers } from './waiting-markers.js';
import type { SealState } from './watermarks.js';

export { LockTimeoutError, withDomainLock, type LockInfo } from './lock.js';

/** An open, locked domain store: state files loaded, written back by save(). */
export interface LockedStore {
  config: Config;
  uuid: string;
  dir: SafeDir;
  archive: SafeDir;
  domain: DomainState;
  seal: SealState;
  lock: LockInfo;
  signal: AbortSignal;
  /** Messages about repairs done on open (crash leftovers removed, watermarks replayed). */
  repairs: string[];
  /** State files found unreadable on open and rebuilt or reset: the operator should hear of them. */
  damage: string[];
  /** Set once the domain's files were deleted (forget.ts): nothing is written back. */
  forgotten?: boolean;
  save(): void;
}

/**
 * Why withStore could not be used, when the cause is the store's state (a lock held past the wait,
 * a read-only or full file system) rather than a bug: hooks report it and go on.
 */
export function storeUnusable(e: unknown): string | undefined {
  if (e instanceof LockTimeoutError) return e.message;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EROFS' || code === 'EDQUOT') return `store not writable (${code})`;
  return undefined;
}

/**
 * Runs `fn` on the domain's store under its lock (creating the store if needed); state files are
 * saved after `fn` returns. Waits at most config.lockWaitMs (LockTimeoutError after).
 */
export async function withStore<T>(
  config: Config,
  uuid: string,
  fn: (s: LockedStore) => Promise<T> | T,
): Promise<T> {
  const dir = ensureDomainDir(config, uuid);
  try {
    return await withDomainLock(config, uuid, async (lock, signal) => {
      const archive = dir.sub('archive', true);
      try {
        const repairs = cleanArchive(archive).map((n) => `removed crash leftover archive/${n}`);
        const damage: string[] = [];
        const { state: seal, repaired, unreadable, text: sealText } = readSealState(dir, archive);
        // sealed.json is written back only when it changed: a start that only marks a boot seals nothing.
        let savedSeal = sealText;
        if (repaired) (unreadable ? damage : repairs).push(repaired);
        const domain = readDomainStateChecked(dir, uuid);
        if (domain.unreadable)
          damage.push('domain.json was unreadable: started afresh (names and last sources are relearnt)');
        // Boot markers written while the store was unusable: known before any seal reads the logs.
        const waiting = readWaitingMarkers(config, uuid);
        // A change tells the capture service (src/store/domains-changed.ts); a rewrite of the same does not.
        let savedDomain = domainStateText(domain.state);
        // domain.json is rewritten only when its text changes (a rewrite of the same costs two fsyncs),
        // except after a recovered lock: the dead writer's last rename may not be on the disk yet.
        let domainOnDisk = lock.recovered ? undefined : domain.text;
        if (waiting.length)
          repairs.push(`recorded ${waiting.length} boot marker(s) written while the store was unavailable`);
        const store: LockedStore = {
          config,
          uuid,
          dir,
          archive,
          domain: withMarkers(domain.state, config.hostName, waiting),
          seal,
          lock,
          signal,
          repairs,
          damage,
          save() {
            if (signal.aborted) throw signal.reason as Error;
            if (store.forgotten) return;
            const text = sealStateText(store.seal);
            if (text !== savedSeal) {
              writeSealState(dir, text, config.logFileMode);
              savedSeal = text;
            }
            const domainText = domainStateText(store.domain);
            if (domainText !== domainOnDisk) {
              writeDomainState(dir, domainText, config.logFileMode);
              domainOnDisk = domainText;
            }
            if (domainText !== savedDomain) {
              savedDomain = domainText;
              signalDomainsChanged(config);
            }
          },
        };
        const out = await fn(store);
        store.save();
        try {
          forgetWaitingMarkers(config, uuid, waiting);
        } catch {
          // Left in the list: merged again at the next event, which adds nothing twice.
        }
        return out;
      } finally {
        archive.close();
      }
    });
  } finally {
    dir.close();
  }
}
