// Boot markers written while the store could not be used (lock held, read-only, full): their ids
// wait in state_dir (`domains/<uuid>/boot-markers.waiting`) until the next hook that holds the store adds them to domain.json, so `show`
// then draws those boots' separators instead of printing the marker as a plain line.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { domainFile } from '../state/domain-files.js';

const C = fs.constants;
const ID = /^[0-9a-f]{16}$/;

function pendingPath(config: Config, uuid: string): string {
  return domainFile(config.stateDir, uuid, 'waitingBootMarkers');
}

/** Notes a marker id domain.json could not take (one line per id; never through a symlink). */
export function rememberWaitingMarker(config: Config, uuid: string, id: string): void {
  if (!ID.test(id)) throw new Error(`not a boot marker id: ${JSON.stringify(id)}`);
  const path = pendingPath(config, uuid);
  fs.mkdirSync(posix.dirname(path), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(path, C.O_WRONLY | C.O_APPEND | C.O_CREAT | C.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, `${id}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

/** The ids waiting for this domain, oldest first (none when the file is missing or unreadable). */
export function readWaitingMarkers(config: Config, uuid: string): string[] {
  let text: string;
  try {
    const fd = fs.openSync(pendingPath(config, uuid), C.O_RDONLY | C.O_NOFOLLOW);
    try {
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => ID.test(l));
}

/** Drops the ids domain.json has taken; ids noted since they were read stay (temp + rename). */
export function forgetWaitingMarkers(config: Config, uuid: string, taken: string[]): void {
  if (!taken.length) return;
  const path = pendingPath(config, uuid);
  const rest = readWaitingMarkers(config, uuid).filter((id) => !taken.includes(id));
  if (!rest.length) {
    fs.rmSync(path, { force: true });
    return;
  }
  const tmp = `${path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, rest.map((id) => `${id}\n`).join(''), { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, path);
}
