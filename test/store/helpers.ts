// Test helpers: a config pointing at a fresh temp store, removed when the test file's tests end.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, type Config } from '../../src/config/schema.js';

export const UUID = '11111111-2222-3333-4444-555555555555';

const bases: string[] = [];
test.after.always('remove the temp stores', () => {
  for (const base of bases.splice(0)) {
    try {
      rmSync(base, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // A detached job a hook run started may still write there: that store stays behind.
    }
  }
});

export function tempConfig(over: Partial<Config> = {}): Config & { base: string } {
  const base = mkdtempSync(join(tmpdir(), 'vcl-store-'));
  bases.push(base);
  const config: Config = {
    ...(structuredClone({ ...DEFAULTS }) as Config),
    logRoot: join(base, 'store'),
    liveDir: join(base, 'live'),
    stateDir: join(base, 'state'),
    allowedRoots: [join(base, 'roots')],
    hostName: 'hosta',
    lockWaitMs: 2000,
    ...over,
  };
  return { ...config, base };
}
