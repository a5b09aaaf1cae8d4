// The domain folder and its two state files (domain.json, sealed.json): open, read, write, and bring
// sealed.json up to date with the archive. Writers reach it through session.ts, readers through view.ts.
import { CHAIN_STATE_FILE, parseChainState, withChainFilesSealed } from './chain-files.js';
import type { Config } from '../config/schema.js';
import {
  ARCHIVE_NAME,
  classifyArchiveEntry,
  DOMAIN_STATE_FILE,
  domainUuid,
  parseSegmentKey,
  segmentKeySeq,
  SEAL_STATE_FILE,
  segmentFileNames,
} from './layout.js';
import { parseDomainState, readDomainStateText, type DomainState } from './domain-state.js';
import { SafeDir } from './safe-fs.js';
import { isSegmentMeta } from './sidecar.js';
import {
  emptySealState,
  HEAD_BYTES,
  headHash,
  MAX_UNRECORDED,
  parseSealState,
  upsertTracked,
  type SealState,
  type UnrecordedSeal,
} from './watermarks.js';
import { readSegmentContent, type SegmentMeta } from './segments.js';

/** Ensures <log_root>/<uuid>/ and its archive exist; returns the open domain folder. */
export function ensureDomainDir(config: Config, uuid: string): SafeDir {
  const root = SafeDir.openRoot(config.logRoot, true, 0o755);
  try {
    const dir = root.sub(domainUuid(uuid), true, 0o750);
    dir.sub(ARCHIVE_NAME, true, 0o750).close();
    return dir;
  } finally {
    root.close();
  }
}

/** Opens <log_root>/<uuid>/ if it exists. */
export function openDomainDir(config: Config, uuid: string): SafeDir | undefined {
  try {
    return SafeDir.openBeneath(config.logRoot, [domainUuid(uuid)]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function readDomainState(dir: SafeDir, uuid: string): DomainState {
  return parseDomainState(domainUuid(uuid), dir.readText(DOMAIN_STATE_FILE));
}

/** domain.json, and whether one was there that could not be used (its state starts afresh). */
export function readDomainStateChecked(
  dir: SafeDir,
  uuid: string,
): { state: DomainState; unreadable: boolean; text: string | undefined } {
  const text = dir.readText(DOMAIN_STATE_FILE);
  return { ...readDomainStateText(domainUuid(uuid), text), text };
}

/** domain.json's text for `state` (what writeDomainState writes). */
export function domainStateText(state: DomainState): string {
  return JSON.stringify(state, null, 1) + '\n';
}

/** Writes domain.json: `text` is domainStateText of the state (computed once: save() compares it). */
export function writeDomainState(dir: SafeDir, text: string, mode: number): void {
  dir.writeAtomic(DOMAIN_STATE_FILE, text, mode);
}

/**
 * Reads sealed.json and brings it up to date with the archive: segments published after the last
 * sealed.json write (a crash in between) have their watermarks replayed from their sidecars; a
 * corrupt sealed.json is rebuilt from all sidecars. `nextSeq` lies above every key on disk, whatever
 * the sidecars say: a new segment must never take the name of one there. Call under the lock.
 */
export function readSealState(
  dir: SafeDir,
  archive: SafeDir,
): { state: SealState; repaired?: string; unreadable: boolean; text: string | undefined } {
  const text = dir.readText(SEAL_STATE_FILE);
  const parsed = parseSealState(text);
  const entries = archive.list().map(classifyArchiveEntry);
  const visible = new Set(entries.flatMap((c) => (c.kind === 'plain' || c.kind === 'gz' ? [c.key] : [])));
  let aboveKeys = 0;
  const sidecars: string[] = [];
  for (const c of entries) {
    if (c.kind === 'temp' || c.kind === 'other') continue;
    const k = parseSegmentKey(c.key);
    if (!k) continue;
    // Unreadable sidecars and content without one count too: a seal reusing a key replaces its content.
    aboveKeys = Math.max(aboveKeys, k.seq + 1);
    if (c.kind === 'sidecar' && visible.has(c.key)) sidecars.push(c.key);
  }
  const replay: SegmentMeta[] = [];
  const unrecorded: UnrecordedSeal[] = [];
  for (const key of keysToReplay(parsed, sidecars)) {
    let meta: unknown;
    try {
      meta = JSON.parse(archive.readText(segmentFileNames(key).sidecar) ?? '');
    } catch {
      meta = undefined;
    }
    // An unreadable sidecar's watermark is lost: seals compare live bytes with its content instead.
    if (isSegmentMeta(meta, key)) replay.push(meta);
    else {
      const u = unrecordedSeal(archive, key);
      if (u) unrecorded.push(u);
    }
  }
  const out = replaySealState(parsed, replay, aboveKeys);
  out.state = withChainFilesSealed(out.state, parseChainState(dir.readText(CHAIN_STATE_FILE)));
  // Kept until a seal matches them or their segment is gone (retention).
  const { unrecorded: before = [], ...state } = out.state;
  const kept = [...before, ...unrecorded].filter((u) => visible.has(u.key)).slice(-MAX_UNRECORDED);
  out.state = kept.length ? { ...state, unrecorded: kept } : state;
  return { ...out, unreadable: !parsed, text };
}

/** What a seal needs to recognise a segment's bytes in a live file: length and hashes. */
function unrecordedSeal(archive: SafeDir, key: string): UnrecordedSeal | undefined {
  const content = readSegmentContent(archive, key);
  const host = parseSegmentKey(key)?.host;
  if (!content?.length || !host) return undefined;
  return {
    key,
    host,
    bytes: content.length,
    head: headHash(content.subarray(0, HEAD_BYTES)),
    sha256: headHash(content),
  };
}

/** Pure: the segment keys whose sidecars may hold watermarks sealed.json lacks (all when it is unreadable). */
export function keysToReplay(parsed: SealState | undefined, keys: readonly string[]): string[] {
  return keys.filter((key) => {
    const seq = segmentKeySeq(key);
    return seq !== undefined && (!parsed || seq >= parsed.nextSeq);
  });
}

/**
 * Pure: sealed.json (undefined = unreadable) with the watermarks of later sidecars replayed, and
 * `nextSeq` above `aboveKeys` (one past the highest key on disk, where the caller listed them).
 */
export function replaySealState(
  parsed: SealState | undefined,
  sidecars: readonly SegmentMeta[],
  aboveKeys = 0,
): { state: SealState; repaired?: string } {
  let state = parsed ?? emptySealState();
  // In seal order: every sidecar replayed is newer than sealed.json, and a later one than an
  // earlier one, so its watermark wins even at the same offset (a boot truncated in place and
  // rewritten to the same length differs only in its head).
  const replay = [...sidecars].sort((a, b) => a.seq - b.seq || (a.key < b.key ? -1 : 1));
  for (const m of replay) {
    // Imported keys count too, so their sidecars are not re-read at every seal.
    state = { ...state, nextSeq: Math.max(state.nextSeq, m.seq + 1) };
    const w = m.watermark;
    if (m.importedFrom || !w) continue;
    state = upsertTracked(state, w);
  }
  state = { ...state, nextSeq: Math.max(state.nextSeq, aboveKeys) };
  const repaired = !parsed
    ? `sealed.json was unreadable: rebuilt from ${replay.length} sidecars`
    : replay.length
      ? `replayed ${replay.length} segment(s) sealed before a crash`
      : undefined;
  return { state, ...(repaired ? { repaired } : {}) };
}

/** sealed.json's text for a state. */
export function sealStateText(state: SealState): string {
  return JSON.stringify(state) + '\n';
}

/** Writes sealed.json: `text` is sealStateText of the state (computed once: save() compares it). */
export function writeSealState(dir: SafeDir, text: string, mode: number): void {
  dir.writeAtomic(SEAL_STATE_FILE, text, mode);
}
