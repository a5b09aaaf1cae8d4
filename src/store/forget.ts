// Forgetting a domain's whole history (undefined_retention_days): the store's view of every domain's
// age, and the deletion of one domain's folder under its lock, after deciding again there.
import * as fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { historyOf, keepReason, type StoredHistory } from './decide-forget.js';
import { listDomainUuids, readDomainStateOf } from './find.js';
import { ARCHIVE_NAME, domainDir, LOCK_NAME } from './layout.js';
import { listArchive, listArchiveForReading, openArchive } from './segments.js';
import { unsealedBytes } from './seal.js';
import { withStore } from './session.js';

/** Every domain of the store with the age of its history (outside the lock: unsealed bytes not looked at). */
export function storedHistories(config: Config): StoredHistory[] {
  const out: StoredHistory[] = [];
  for (const uuid of listDomainUuids(config)) {
    const state = readDomainStateOf(config, uuid);
    if (!state) continue;
    const archive = openArchive(config, uuid);
    let times: string[] = [];
    try {
      if (archive) times = listArchiveForReading(archive).segments.map((s) => s.lastTime);
    } finally {
      archive?.close();
    }
    out.push(historyOf(state, times));
  }
  return out;
}

/**
 * Deletes a domain's folder when, looked at again under its lock, it is still to be forgotten
 * (`defined`: the UUIDs libvirt listed). Returns why it was kept, or undefined once deleted (with
 * dryRun: undefined when it would be deleted).
 */
export async function forgetDomain(
  config: Config,
  uuid: string,
  defined: ReadonlySet<string>,
  graceDays: number,
  now: Date,
  dryRun = false,
): Promise<string | undefined> {
  const kept = await withStore(config, uuid, (store) => {
    const host = config.hostName;
    const h = historyOf(
      store.domain,
      listArchive(store.archive).map((s) => s.lastTime),
      unsealedBytes(store, host),
    );
    const why = keepReason(h, defined, graceDays, now, host);
    if (why || dryRun) return why;
    if (store.signal.aborted) return 'the domain lock was lost';
    store.forgotten = true;
    // Segments first, state files last: a crash in between leaves a folder the next run forgets.
    for (const name of store.archive.list()) store.archive.unlink(name);
    store.archive.fsync();
    for (const name of store.dir.list()) {
      if (name === LOCK_NAME || name === `${LOCK_NAME}.owner`) continue;
      if (name === ARCHIVE_NAME) fs.rmdirSync(store.dir.entry(name));
      else if (store.dir.lstat(name)?.isDirectory())
        continue; // not ours: left, so the folder stays
      else store.dir.unlink(name);
    }
    store.dir.fsync();
    return undefined;
  });
  if (kept || dryRun) return kept;
  // The lock is released: its owner record and the empty folder go, unless someone holds it again.
  const dir = domainDir(config.logRoot, uuid);
  if (!fs.existsSync(`${dir}/${LOCK_NAME}`)) fs.rmSync(`${dir}/${LOCK_NAME}.owner`, { force: true });
  try {
    fs.rmdirSync(dir);
  } catch {
    // Not empty: someone created something in it since; the next run looks again.
  }
  return undefined;
}
