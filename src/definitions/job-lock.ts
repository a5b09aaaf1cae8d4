// One automatic-mode job per domain: its pid file in <state_dir>/domains/<uuid>/auto-enable.pid.
// Apart from the job itself (src/definitions/auto.ts): the hook asks whether one is pending.
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { domainFile, domainsDir } from '../state/domain-files.js';
import { isUuid } from '../store/layout.js';
import { pidAlive } from '../util/pid.js';

function live(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 1 && pidAlive(pid);
}

export function pidFilePath(config: Config, uuid: string): string {
  return domainFile(config.stateDir, uuid, 'autoEnableJob');
}

/** True when a job for this domain is pending (its pid file names a live process). */
export async function jobPending(config: Config, uuid: string): Promise<boolean> {
  try {
    return live(Number((await readFile(pidFilePath(config, uuid), 'utf8')).trim()));
  } catch {
    return false;
  }
}

/** One pending job per domain: an O_EXCL pid file; a stale one (dead pid) is taken over. */
export async function takeJobLock(config: Config, uuid: string): Promise<(() => Promise<void>) | undefined> {
  const path = pidFilePath(config, uuid);
  await mkdir(posix.dirname(path), { recursive: true, mode: 0o700 });
  for (let i = 0; i < 2; i++) {
    try {
      const fh = await open(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o644,
      );
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (await jobPending(config, uuid)) return undefined;
      await rm(path, { force: true });
    }
  }
  return undefined;
}

/** How many domains of this host have a job pending (the automatic mode's jobs share libvirt by it). */
export async function pendingJobCount(config: Config): Promise<number> {
  let uuids: string[];
  try {
    uuids = await readdir(domainsDir(config.stateDir));
  } catch {
    return 0;
  }
  const pending = await Promise.all(uuids.filter(isUuid).map((uuid) => jobPending(config, uuid)));
  return pending.filter(Boolean).length;
}
