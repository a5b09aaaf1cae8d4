// File helpers for live sources outside the store's own folders: open a path from XML or
// domain.json only inside the allowed roots and without following symlinks, open virtlogd's
// rotation set as one consistent snapshot, read at an offset.
import * as fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { rotationSet } from './layout.js';
import { locateAllowed, SafeDir, UnsafePathError } from './safe-fs.js';
import type { FileIdentity } from './watermarks.js';

const C = fs.constants;

/** The roots inside which a path from XML may be acted on: allowed_roots, the store and live_dir. */
export function actionRoots(config: Config): string[] {
  return [...config.allowedRoots, config.logRoot, config.liveDir];
}

/** Opens the folder holding `path` without following symlinks; explains a refusal. */
export function openParentSafely(
  config: Config,
  path: string,
): { dir: SafeDir; name: string } | { refused: string } | { missing: true } {
  const loc = locateAllowed(path, actionRoots(config));
  if (!loc)
    return {
      refused: `${path} is outside the allowed roots (${actionRoots(config).join(', ')}): left alone`,
    };
  try {
    return { dir: SafeDir.openBeneath(loc.root, loc.dirs), name: loc.name };
  } catch (e) {
    if (e instanceof UnsafePathError) return { refused: e.message };
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    throw e;
  }
}

export interface OpenedFile {
  file: string;
  fd: number;
  st: fs.Stats;
}

/**
 * Opens virtlogd's rotation set of `name` (oldest first) as one consistent snapshot: if a rotation
 * renamed files while they were being opened (a file skipped or seen twice), it tries again.
 * Non-regular files and symlinks are reported in `refused`.
 */
export function openRotationSet(dir: SafeDir, name: string): { files: OpenedFile[]; refused: string[] } {
  for (let attempt = 0; ; attempt++) {
    const files: OpenedFile[] = [];
    const refused: string[] = [];
    const names = rotationSet(name, dir.list());
    for (const file of names) {
      let fd: number;
      try {
        fd = dir.open(file, C.O_RDONLY | C.O_NONBLOCK);
      } catch (e) {
        if (e instanceof UnsafePathError) refused.push(e.message);
        else if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        continue;
      }
      const st = fs.fstatSync(fd);
      if (!st.isFile()) {
        fs.closeSync(fd);
        refused.push(`${dir.display(file)} is not a regular file: left alone`);
        continue;
      }
      files.push({ file, fd, st });
    }
    const stable =
      rotationSet(name, dir.list()).join('/') === names.join('/') &&
      files.every((f) => {
        const now = dir.lstat(f.file);
        return now?.ino === f.st.ino && now.dev === f.st.dev;
      });
    if (stable || attempt >= 20) return { files, refused };
    for (const f of files) fs.closeSync(f.fd);
  }
}

export function identity(st: fs.Stats): FileIdentity {
  return {
    dev: st.dev,
    ino: st.ino,
    birthtimeMs: Math.floor(st.birthtimeMs),
    size: st.size,
    ctimeMs: st.ctimeMs,
  };
}

/** Up to `len` bytes at `pos` (fewer only at end of file); retries short reads. */
export function readAt(fd: number, len: number, pos: number): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** A reader outside root may not open live_dir or virtlogd's files (0600): read as absent. */
const denied = (e: unknown) => ['EACCES', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '');

/** `openParentSafely` for readers: a folder this user may not open is missing. */
export function openLiveParent(config: Config, path: string): ReturnType<typeof openParentSafely> {
  try {
    return openParentSafely(config, path);
  } catch (e) {
    if (denied(e)) return { missing: true };
    throw e;
  }
}

/** `openRotationSet` for readers: files this user may not open are absent. */
export function openLiveRotationSet(dir: SafeDir, name: string): ReturnType<typeof openRotationSet> {
  try {
    return openRotationSet(dir, name);
  } catch (e) {
    if (denied(e)) return { files: [], refused: [] };
    throw e;
  }
}
