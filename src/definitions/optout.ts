// `disable` is remembered on this host, so the automatic mode does not enable the domain again.
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { constants, statSync } from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { domainFile } from '../state/domain-files.js';

function optOutPath(config: Config, uuid: string): string {
  return domainFile(config.stateDir, uuid, 'optOut');
}

export async function setOptOut(config: Config, uuid: string): Promise<void> {
  const path = optOutPath(config, uuid);
  await mkdir(posix.dirname(path), { recursive: true, mode: 0o700 });
  // O_NOFOLLOW: never write through a link someone else put there.
  const fh = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    await fh.writeFile(`${new Date().toISOString()}\n`);
  } finally {
    await fh.close();
  }
}

export async function clearOptOut(config: Config, uuid: string): Promise<void> {
  await rm(optOutPath(config, uuid), { force: true });
}

export async function isOptedOut(config: Config, uuid: string): Promise<boolean> {
  try {
    await stat(optOutPath(config, uuid));
    return true;
  } catch {
    return false;
  }
}

/** Synchronous variant for the hook (one stat, no promise machinery). */
export function isOptedOutSync(config: Config, uuid: string): boolean {
  try {
    statSync(optOutPath(config, uuid));
    return true;
  } catch {
    return false;
  }
}
