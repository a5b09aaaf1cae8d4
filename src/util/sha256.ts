// SHA-256 for the modules `show` loads: node:crypto (with the streams it pulls in) takes 5-9 ms to load,
// so it is loaded on the first hash, which most `show` runs never make (BENCHMARKS.md, issue 20).
import { createRequire } from 'node:module';

let crypto: typeof import('node:crypto') | undefined;

/** The SHA-256 of `data` in hex. */
export function sha256Hex(data: Buffer): string {
  // A builtin resolves the same from any base; '/' keeps this free of import.meta (bundled as CommonJS).
  crypto ??= createRequire('/')('node:crypto') as typeof import('node:crypto');
  return crypto.createHash('sha256').update(data).digest('hex');
}
