// Types several store modules share (kept apart so that segments, the archive index and the
// sidecar check need not import each other).
import type { BootMark } from './markers.js';
import type { TrackedFile } from './watermarks.js';

/** The sidecar of a segment: everything a reader or a peer needs without opening the content. */
export interface SegmentMeta {
  version: 1;
  key: string;
  host: string;
  generation: number;
  seq: number;
  device: string;
  /** Why it was sealed: `restart` (before a truncating start), `stop`, `migrated`, `destroyed`, `imported`... */
  reason: string;
  /** Where the bytes came from: the live file and the byte range of it. */
  origin: { host: string; path: string; dev: number; ino: number; start: number; end: number };
  plainBytes: number;
  /** Newline count of the plain content. */
  lines: number;
  firstTime: string;
  lastTime: string;
  /** sha256 (hex) of the plain content: the content address for imports. */
  sha256: string;
  /** Boot boundaries inside the content (in-band markers, or an implicit one at 0). */
  boots: BootMark[];
  sealedAt: string;
  /** The watermark this seal produced (replayed if sealed.json missed it in a crash). */
  watermark?: TrackedFile;
  /** Set on segments fetched from a peer: the peer's host and its key there. */
  importedFrom?: { host: string; key: string };
  /**
   * The generation this segment sorts at when above `generation`: set on a host's seals made while
   * an arrival's fetch was owed, once the fetch showed the earlier history's generations
   * (src/transfer/decide-order.ts). The key never changes; readers that do not know it sort by key.
   */
  orderGeneration?: number;
}
