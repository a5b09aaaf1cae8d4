// Figures from reliability runs (cases, faults, failures) land in build/reliability/*.json, so that
// RELIABILITY.md quotes numbers a run actually produced.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './generate.js';

export function recordFigures(name: string, figures: Record<string, unknown>): void {
  const dir = path.join(repoRoot, 'build/reliability');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, `${name}.json`),
    JSON.stringify({ name, at: new Date().toISOString(), ...figures }, null, 2) + '\n',
  );
}

/** Runs `fn` over `items` with at most `limit` at once (the machine has 2 cores shared by all). */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}
