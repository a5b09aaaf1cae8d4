// What the fault matrix keeps of sealed segments: the digest of each one's decoded content by its
// key (generation, sequence, host). Retention gzips a plain segment (.seg -> .seg.gz) by design:
// that is the same segment with the same bytes; a changed byte, or a segment gone, is not.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { classifyArchiveEntry } from '../../src/store/layout.js';

/**
 * sha256 of each segment's plain content in `archiveDir`, by key. While both forms exist
 * (compression between its rename and its unlink) the plain one is read, as the store's readers do.
 * A file that cannot be read or decoded gets a digest that matches nothing: `unreadable: <why>`.
 */
export function sealedSegments(archiveDir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(archiveDir)) return out;
  const files = new Map<string, { plain?: string; gz?: string }>();
  for (const name of readdirSync(archiveDir)) {
    const c = classifyArchiveEntry(name);
    if (c.kind !== 'plain' && c.kind !== 'gz') continue;
    files.set(c.key, { ...files.get(c.key), [c.kind]: name });
  }
  for (const [key, f] of files) {
    try {
      const raw = readFileSync(join(archiveDir, (f.plain ?? f.gz) as string));
      const content = f.plain ? raw : gunzipSync(raw);
      out.set(key, createHash('sha256').update(content).digest('hex'));
    } catch (e) {
      out.set(key, `unreadable: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Keys of segments recorded `before` that are gone `now` or whose content differs. */
export function changedSegments(
  before: ReadonlyMap<string, string>,
  now: ReadonlyMap<string, string>,
): string[] {
  return [...before].filter(([key, digest]) => now.get(key) !== digest).map(([key]) => key);
}
