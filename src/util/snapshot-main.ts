// What the main of a V8 start-up snapshot (hooks/virt-consolelog-hook-snapshot.ts, src/cli/snapshot.ts)
// does before anything else: the byte its sh launcher waits for, and the bundle's import.meta.url.
import { closeSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

type UrlGlobal = '__vclHookUrl' | '__vclCliUrl';

/**
 * Writes S on fd 3: without this byte a failed run was a blob Node could not load, and the launcher
 * runs the plain bundle instead (before stdin is read or anything printed). Closed so that no job or
 * pager inherits it. Then sets the bundle's import.meta.url (bundleStarted).
 */
export function snapshotMainStarted(urlGlobal: UrlGlobal): void {
  try {
    writeSync(3, 'S');
    closeSync(3);
  } catch {
    // Started by hand, without fd 3: nothing waits for the byte.
  }
  bundleStarted(urlGlobal);
}

/**
 * Sets `urlGlobal`, which scripts/build.mjs puts in place of import.meta.url in the one-file bundles,
 * to the bundle's own place (this process's script).
 */
export function bundleStarted(urlGlobal: UrlGlobal): void {
  (globalThis as Record<string, unknown>)[urlGlobal] = pathToFileURL(process.argv[1] ?? '').href;
}
