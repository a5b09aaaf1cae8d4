// Shared store mode (DESIGN.md "Across hosts"): whether another host writes into this very store.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { domainDir } from '../store/layout.js';

/** Whether the store is shared with `host` (its live folder is visible in our own store): nothing to copy. */
export function sharedWith(config: Config, uuid: string, host: string): boolean {
  try {
    return (
      fs.lstatSync(posix.join(domainDir(config.logRoot, uuid), host)).isDirectory() &&
      host !== config.hostName
    );
  } catch {
    return false;
  }
}
