// The capture service's time indexes in a domain's folder (times-<host>.jsonl): their size (they
// count against domain_cap_bytes) and their compaction once retention deleted the segments they time.
import * as fs from 'node:fs';
import { fileKey } from '../capture/decide.js';
import { IMPORTED_TIMES_FILE, compactImported, identityKey, identityOf } from '../capture/imported-times.js';
import { compactTimes, timesFileName } from '../capture/times.js';
import { openParentSafely } from './files.js';
import { rotationSet } from './layout.js';
import type { SafeDir } from './safe-fs.js';
import { listArchive, type SegmentInfo } from './segments.js';
import type { LockedStore } from './session.js';

const TIMES_RE = /^times-[A-Za-z0-9][A-Za-z0-9_.-]*\.jsonl$/;

/** Bytes of every host's times file, and of the imported one, in a domain folder. */
export function timesBytes(dir: SafeDir): number {
  let total = 0;
  for (const name of dir.list()) {
    if (!TIMES_RE.test(name) && name !== IMPORTED_TIMES_FILE) continue;
    const st = dir.lstat(name);
    if (st?.isFile()) total += st.size;
  }
  return total;
}

/** Origin files of this host whose points still time something: those of segments kept, and live files. */
function filesInUse(store: LockedStore, kept: readonly SegmentInfo[]): Set<string> {
  const host = store.config.hostName;
  const keys = new Set<string>();
  for (const s of kept) {
    if (s.importedFrom || s.origin.host !== host) continue;
    keys.add(fileKey({ dev: s.origin.dev, ino: s.origin.ino, birth: s.watermark?.birthtimeMs ?? 0 }));
  }
  for (const d of Object.values(store.domain.hosts[host]?.devices ?? {})) {
    const opened = openParentSafely(store.config, d.path);
    if (!('dir' in opened)) continue;
    try {
      for (const name of rotationSet(opened.name, opened.dir.list())) {
        const st = opened.dir.lstat(name);
        if (st?.isFile()) keys.add(fileKey({ dev: st.dev, ino: st.ino, birth: Math.floor(st.birthtimeMs) }));
      }
    } finally {
      opened.dir.close();
    }
  }
  return keys;
}

/**
 * Under the lock: rewrites a times file without the entries `keep` rejects (temp file, fsync,
 * rename, fsync of the folder). Returns bytes saved.
 */
function compactFile(
  store: LockedStore,
  name: string,
  compact: (text: string) => string | undefined,
): number {
  const text = store.dir.readText(name);
  if (text === undefined) return 0;
  const kept = compact(text);
  if (kept === undefined) return 0;
  // Points the service appended while this ran (it holds no lock) are carried over after the rename.
  const fd = store.dir.open(name, fs.constants.O_RDONLY);
  try {
    store.dir.writeAtomic(name, kept, store.config.logFileMode);
    const tail = fs.readFileSync(fd).subarray(Buffer.byteLength(text));
    const more = tail.length ? compact(tail.toString('utf8')) : undefined;
    const add = more ?? tail.toString('utf8');
    if (add) fs.appendFileSync(store.dir.entry(name), add);
  } finally {
    fs.closeSync(fd);
  }
  return Buffer.byteLength(text) - Buffer.byteLength(kept);
}

/**
 * Under the lock: rewrites this host's times file without the points of files no segment refers
 * to any more and that left the live rotation set, and the imported times file without the
 * entries of imported segments deleted. Only this host's own file: another host's live files
 * cannot be seen from here. `segments`: the archive after the deletion when the caller just
 * listed it (else listed here). Returns bytes saved.
 */
export function compactTimesFile(store: LockedStore, segments?: readonly SegmentInfo[]): number {
  const kept = segments ?? listArchive(store.archive);
  let inUse: Set<string> | undefined;
  const own = compactFile(store, timesFileName(store.config.hostName), (text) => {
    inUse ??= filesInUse(store, kept);
    const set = inUse;
    return compactTimes(text, (k) => set.has(k));
  });
  const imports = new Set(kept.filter((s) => s.importedFrom).map((s) => identityKey(identityOf(s))));
  return (
    own + compactFile(store, IMPORTED_TIMES_FILE, (text) => compactImported(text, (k) => imports.has(k)))
  );
}
