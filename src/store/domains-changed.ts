// A nudge from every writer of domain.json to the capture service: one small file in the service's
// state folder, rewritten after a change, which the service watches so that a guest new to this
// host is followed from its first line instead of at the next periodic discovery (2 s).
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';

/** The service's folder under state_dir (its status.json lives there too). */
export function captureStateDir(config: Config): string {
  return posix.join(config.stateDir, 'capture');
}

/** The file the service watches for `change` events. */
export const DOMAINS_CHANGED_FILE = 'domains-changed';

/**
 * Tells a running service that a domain.json changed. Without the service's folder (it never ran
 * here) nothing is created; any failure is ignored: the periodic discovery still finds the change.
 */
export function signalDomainsChanged(config: Config): void {
  let fd: number | undefined;
  try {
    const C = fs.constants;
    fd = fs.openSync(
      posix.join(captureStateDir(config), DOMAINS_CHANGED_FILE),
      C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_NOFOLLOW,
      0o600,
    );
    fs.writeSync(fd, '1');
  } catch {
    // No service folder, a read-only state_dir, a symlink planted there: the nudge is only a hint.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
