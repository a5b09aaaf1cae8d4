// The reader-chain files the plugin wrote beside logs a management layer reads in place (chain.json
// in the domain's store folder, written by src/chain/layout.ts). Their content is history the store
// already holds, so they count as sealed to their end even when sealed.json was lost and rebuilt
// from sidecars: otherwise the next seal would archive them a second time.
import type * as fs from 'node:fs';
import { findTracked, upsertTracked, type SealState } from './watermarks.js';

export const CHAIN_STATE_FILE = 'chain.json';

export interface ChainRecord {
  host: string;
  path: string;
  dev: number;
  ino: number;
  birthtimeMs: number;
  size: number;
  at: string;
  /** The device whose history it holds, and the watermark's head hash: what a seal needs to skip it. */
  device?: string;
  head?: string;
  headLen?: number;
}

export function parseChainState(text: string | undefined): ChainRecord[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text) as { version?: number; files?: unknown };
    if (v.version !== 1 || !Array.isArray(v.files)) return [];
    return v.files.filter(
      (f): f is ChainRecord =>
        typeof f === 'object' &&
        f !== null &&
        typeof (f as ChainRecord).host === 'string' &&
        typeof (f as ChainRecord).path === 'string' &&
        Number.isSafeInteger((f as ChainRecord).ino) &&
        Number.isSafeInteger((f as ChainRecord).dev),
    );
  } catch {
    return [];
  }
}

/** Whether the file `st` is one the plugin wrote on `host` (same inode, birth and size). */
export function isOurs(records: readonly ChainRecord[], st: fs.Stats, host: string): boolean {
  return records.some(
    (r) =>
      r.host === host &&
      r.dev === st.dev &&
      r.ino === st.ino &&
      r.size === st.size &&
      (!r.birthtimeMs || !st.birthtimeMs || r.birthtimeMs === Math.floor(st.birthtimeMs)),
  );
}

/**
 * Pure: `state` with every recorded chain file that it does not track marked sealed to its end. Two
 * files with one dev + inode and other birth times: only the later born can still exist (ext4 reuses
 * a deleted log's inode). An entry born earlier than the chain file (a rebuild replays every
 * sidecar's watermark, gone files too) gives way; one born later (a new log on a chain file's
 * inode, its record not dropped yet) stays.
 */
export function withChainFilesSealed(state: SealState, records: readonly ChainRecord[]): SealState {
  let out = state;
  for (const r of records) {
    if (r.device === undefined || r.head === undefined || r.headLen === undefined) continue;
    const tracked = findTracked(out, r, r.host);
    if (tracked && !(tracked.birthtimeMs && r.birthtimeMs && tracked.birthtimeMs < r.birthtimeMs)) continue;
    out = upsertTracked(out, {
      host: r.host,
      device: r.device,
      path: r.path,
      dev: r.dev,
      ino: r.ino,
      birthtimeMs: r.birthtimeMs,
      head: r.head,
      headLen: r.headLen,
      offset: r.size,
      updated: r.at,
    });
  }
  return out;
}
