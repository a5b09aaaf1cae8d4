// Shared store mode (docs/DESIGN.md "Across hosts"): whether another host writes into this very store.
import type { Config } from '../config/schema.js';
import { openDomainDir, readDomainState } from '../store/store.js';

/**
 * Whether the store is shared with `host` (log_root on NFS or the like): then the domain's
 * domain.json here is the one `host` wrote too, and names it. A private store only ever records this
 * host (src/lifecycle/prepare.ts and stop.ts write this host's entry; fetches record no peer there).
 */
export function sharedWith(config: Config, uuid: string, host: string): boolean {
  if (host === config.hostName) return false;
  try {
    const dir = openDomainDir(config, uuid);
    if (!dir) return false;
    try {
      return readDomainState(dir, uuid).hosts[host] !== undefined;
    } finally {
      dir.close();
    }
  } catch {
    return false;
  }
}
