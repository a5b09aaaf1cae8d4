// Reading without root: the store is readable by the group the package creates (docs: README,
// "Reading without root"). A user outside it gets one line naming the group, not an EACCES trace.
import * as fs from 'node:fs';
import type { Config } from '../config/schema.js';

/** The group whose members may read the store (show, status). */
export const READ_GROUP = 'virt-consolelog';

export class StoreAccessError extends Error {
  override name = 'StoreAccessError';
}

export function accessMessage(path: string): string {
  return `cannot read ${path}: the store is readable by root and the group ${READ_GROUP} (add yourself: usermod -aG ${READ_GROUP} $USER, then log in again)`;
}

/** Throws StoreAccessError when the store exists but this user may not read it. */
export function assertStoreReadable(config: Config): void {
  try {
    fs.accessSync(config.logRoot, fs.constants.R_OK | fs.constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new StoreAccessError(accessMessage(config.logRoot));
  }
}

/** A permission error met while reading (a file below the root): the same one line. */
export function describeAccessError(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException;
  if (err?.code !== 'EACCES' && err?.code !== 'EPERM') return undefined;
  return accessMessage(err.path ?? 'the store');
}
