// Test helpers: a config pointing at a fresh temp store.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, type Config } from '../../src/config/schema.js';

export const UUID = '11111111-2222-3333-4444-555555555555';

export function tempConfig(over: Partial<Config> = {}): Config & { base: string } {
  const base = mkdtempSync(join(tmpdir(), 'vcl-store-'));
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
