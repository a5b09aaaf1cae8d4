// Reader chains (pure): the files beside a log that a management layer reads in place (Nova's
// `console.log`, then `console.log.0`, `.1`, ... while they exist; docs/MANAGEMENT-LAYERS.md), and
// the renames/writes that lay the store's earlier history out as such a chain without ever touching
// a file virtlogd may write or rename (docs/ARCHITECTURE.md "Reader chains").
import { posix } from 'node:path';
import { isInside } from '../store/layout.js';

/** Nova's MAX_CONSOLE_BYTES (nova/virt/libvirt/driver.py): the bytes one console read returns. */
export const NOVA_MAX_CONSOLE_BYTES = 100 * 1024;

/** One file of a chain as found in the log's folder. */
export interface ChainEntry {
  name: string;
  /** undefined for the log itself, N for `<log>.N`. */
  index: number | undefined;
  size: number;
  /** Every byte of it is in the store (sealed.json says so). */
  sealed: boolean;
  /** The plugin wrote it (chain.json): earlier history, never a file virtlogd wrote. */
  ours: boolean;
}

/**
 * When the chain is laid out:
 * - `clear`: prepare begin (QEMU not running, virtlogd holds no handle on these files) of a start
 *   that truncates the log, or of a guest arriving back on a host whose files are a stale part of
 *   its history: the old files, all sealed, are removed (virtlogd itself deletes a log's backups
 *   when it opens it truncating, so nothing of the chain would survive the start anyway);
 * - `arrival`: once virtlogd writes the new log (after a history fetch, or after a truncating
 *   start): one file of earlier history is added behind virtlogd's own backups; nothing is
 *   renamed, replaced or removed.
 */
export type ChainMode = 'clear' | 'arrival';

export interface ChainPlanInput {
  mode: ChainMode;
  base: string;
  entries: readonly ChainEntry[];
  /** Bytes of earlier history to lay out (already bounded by chain_bytes); 0 = nothing to write. */
  contentBytes: number;
  /** virtlogd's max_backups: its rollover removes `.max_backups-1` and renames `.i` -> `.i+1` below it. */
  maxBackups: number;
}

export interface ChainPlan {
  /** Remove these, in this order (the log first: a reader in between then sees nothing, not a gap). */
  unlink: string[];
  /** Write the earlier history as this file (never replacing an existing one). */
  write?: string;
  /** Why nothing is done. */
  skip?: string;
}

/** `<base>.N` -> N for the names a chain may hold (virtlogd's suffixes, as rotationSet reads them). */
export function chainIndex(base: string, name: string): number | undefined {
  if (!name.startsWith(base + '.')) return undefined;
  const suffix = name.slice(base.length + 1);
  return /^(0|[1-9]\d{0,2})$/.test(suffix) ? Number(suffix) : undefined;
}

/** Names of the chain files present (`<base>.N`), lowest N first. */
export function chainNames(base: string, names: readonly string[]): { name: string; index: number }[] {
  return names
    .flatMap((name) => {
      const index = chainIndex(base, name);
      return index === undefined ? [] : [{ name, index }];
    })
    .sort((a, b) => a.index - b.index);
}

export function planChain(input: ChainPlanInput): ChainPlan {
  const { base, entries } = input;
  const baseEntry = entries.find((e) => e.index === undefined);
  const numbered = entries
    .filter((e): e is ChainEntry & { index: number } => e.index !== undefined)
    .sort((a, b) => a.index - b.index);
  if (input.mode === 'clear') {
    const unsafe = entries.filter((e) => !e.sealed && !e.ours);
    // Content not in the store yet is never removed: the view stays as it is.
    if (unsafe.length)
      return { unlink: [], skip: `${unsafe.map((e) => e.name).join(', ')} not sealed: chain left as it is` };
    const unlink = [
      ...(baseEntry ? [base] : []),
      ...numbered
        .slice()
        .reverse()
        .map((e) => e.name),
    ];
    return unlink.length ? { unlink } : { unlink, skip: 'no earlier files' };
  }
  // arrival: virtlogd is writing; only a new name behind its contiguous backups is ever created.
  if (input.contentBytes <= 0) return { unlink: [], skip: 'no earlier history to lay out' };
  if (!baseEntry) return { unlink: [], skip: `${base} missing: a reader would stop before any chain file` };
  let k = 0;
  while (numbered.some((e) => e.index === k)) k++;
  const run = numbered.filter((e) => e.index < k);
  if (run.some((e) => e.ours)) return { unlink: [], skip: 'earlier history already laid out' };
  if (numbered.length > run.length)
    return { unlink: [], skip: `unexpected files behind ${base}.${k}: chain left as it is` };
  // At .max_backups or above, virtlogd's rollover would delete the file in front and leave ours
  // behind a gap; below it, ours moves up with virtlogd's backups and goes out last, in order.
  if (k >= Math.max(1, input.maxBackups))
    return {
      unlink: [],
      skip: `virtlogd already keeps ${k} backup(s) (max_backups ${input.maxBackups}): no room in the chain`,
    };
  return { unlink: [], write: `${base}.${k}` };
}

/** What Nova's reader returns from a folder: it reads the log, then `.0`, `.1`, ... while they exist. */
export function novaView(
  base: string,
  sizes: ReadonlyMap<string, number>,
  budget = NOVA_MAX_CONSOLE_BYTES,
): { bytes: number; files: string[] } {
  let left = budget;
  const files: string[] = [];
  let name = base;
  for (let i = 0; left > 0; i++) {
    const size = sizes.get(name);
    if (size === undefined) break;
    files.push(name);
    left -= Math.min(size, left);
    name = `${base}.${i}`;
  }
  return { bytes: budget - left, files };
}

/** Whether a log path is one a management layer reads in place (outside the store and live_dir). */
export function readInPlace(
  config: { logRoot: string; liveDir: string; allowedRoots: readonly string[] },
  path: string,
): boolean {
  const p = posix.normalize(path);
  return (
    posix.isAbsolute(p) &&
    !isInside(config.logRoot, p) &&
    !isInside(config.liveDir, p) &&
    config.allowedRoots.some((r) => isInside(r, p))
  );
}
