// The paths of a domain's state files as modules use them (domainFile, domainsDir), and the move of
// a host's state_dir from the older layout (one folder per concern: markers/,
// definitions/auto-enable/, definitions/disabled/, transfer/) to one folder per domain. Done
// lazily, by the first process of a new version that asks for a domain path, and idempotent: two
// processes moving at once lose nothing (a rename that finds its source gone was the other's).
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { isUuid } from '../store/layout.js';
import {
  domainFilePath,
  DOMAINS_DIR,
  DOMAIN_FILES,
  LEGACY_DIRS,
  LEGACY_LAYOUT,
  type DomainFile,
} from './layout.js';

const checked = new Set<string>();

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** The path of one of a domain's state files, after moving this host's older layout into place. */
export function domainFile(stateDir: string, uuid: string, what: DomainFile): string {
  migrateStateDir(stateDir);
  return domainFilePath(stateDir, uuid, what);
}

/** `<state_dir>/domains`, after the same move (for listings over every domain). */
export function domainsDir(stateDir: string): string {
  migrateStateDir(stateDir);
  return posix.join(stateDir, DOMAINS_DIR);
}

/** Moves files of the older layout into `<state_dir>/domains/<uuid>/`; checks once per process. */
export function migrateStateDir(stateDir: string): string[] {
  if (checked.has(stateDir)) return [];
  checked.add(stateDir);
  const moved: string[] = [];
  for (const { dir, name, to } of LEGACY_LAYOUT) {
    let entries: string[];
    try {
      entries = fs.readdirSync(posix.join(stateDir, dir));
    } catch {
      continue; // the common case: nothing of the older layout here
    }
    for (const entry of entries) {
      const uuid = name.exec(entry)?.[1];
      if (!uuid || !isUuid(uuid)) continue;
      const from = posix.join(stateDir, dir, entry);
      try {
        if (fs.lstatSync(from).isSymbolicLink()) continue; // never moved, never followed
        const folder = posix.join(stateDir, DOMAINS_DIR, uuid);
        fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
        const dest = posix.join(folder, DOMAIN_FILES[to]);
        if (!fs.existsSync(dest)) fs.renameSync(from, dest);
        else mergeInto(from, dest, to === 'waitingBootMarkers');
        moved.push(`${dir}/${entry}`);
      } catch (e) {
        if (code(e) !== 'ENOENT') throw e;
      }
    }
  }
  for (const dir of LEGACY_DIRS)
    try {
      fs.rmdirSync(posix.join(stateDir, dir));
    } catch {
      // not empty (something not ours) or gone: left as it is
    }
  return moved;
}

/** A file of the older layout whose new place exists already: the newer one wins, boot ids add up. */
function mergeInto(from: string, dest: string, appendLines: boolean): void {
  if (appendLines) {
    const fd = fs.openSync(from, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    let text: string;
    try {
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
    const out = fs.openSync(dest, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW);
    try {
      if (text) fs.writeSync(out, text.endsWith('\n') ? text : `${text}\n`);
    } finally {
      fs.closeSync(out);
    }
  }
  fs.rmSync(from, { recursive: true, force: true });
}

/** For tests: forget which state_dirs this process checked. */
export function resetMigrationCheck(): void {
  checked.clear();
}
