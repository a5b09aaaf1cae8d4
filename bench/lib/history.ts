// Builds a domain's history with the store's own code (sealDevice, compressSegment), so the formats are
// exactly what the hook writes: each boot is a live file that starts with a boot marker, sealed into a
// segment, optionally gzipped.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/parse.js';
import type { Config } from '../../src/config/schema.js';
import { liveLogPath } from '../../src/store/layout.js';
import { bootMarkerLine } from '../../src/store/markers.js';
import { compressSegment } from '../../src/store/segment-content.js';
import { sealDevice } from '../../src/store/seal.js';
import { withStore } from '../../src/store/session.js';
import { configText } from './sandbox.js';

export function benchConfig(logRoot: string, host: string, extra: Record<string, string> = {}): Config {
  const { config, errors } = parseConfig(
    configText({ logRoot, liveDir: `${logRoot}.live`, allowedRoots: [logRoot], hostName: host, extra }),
    'bench.conf',
  );
  if (errors.length) throw new Error(errors.map((e) => e.message).join('; '));
  return config;
}

export interface SealedBoot {
  key: string;
  plainBytes: number;
  compressed: boolean;
  /** The bytes the guest's live file held (boot marker + output): what virtlogd's file would hold. */
  live: Buffer;
}

/**
 * Seals one boot's console output as the hook would after a truncating restart: the live file holds a
 * boot marker and then `content`; it is sealed (reason `restart`) and removed, and gzipped if asked.
 * Returns the bytes the segment holds (marker included).
 */
export async function sealBoot(
  config: Config,
  uuid: string,
  bootIndex: number,
  content: Buffer,
  compress: boolean,
  at: Date,
): Promise<SealedBoot> {
  const host = config.hostName;
  const live = liveLogPath(config.liveDir, uuid, 'serial0');
  mkdirSync(join(live, '..'), { recursive: true });
  const bootId = `b${bootIndex.toString(16).padStart(7, '0')}`;
  const marker = Buffer.from(bootMarkerLine(bootId, host, at));
  rmSync(live, { force: true });
  const bytes = Buffer.concat([marker, content]);
  writeFileSync(live, bytes, { mode: 0o640 });
  const keys = await withStore(config, uuid, async (store) => {
    const outcome = sealDevice(
      store,
      {
        host,
        device: 'serial0',
        path: live,
        generation: 0,
        reason: 'restart',
        boot: { id: bootId, host, at: at.toISOString() },
        truncateNext: false,
      },
      at,
    );
    if (outcome.skipped) throw new Error(`seal skipped: ${outcome.skipped}`);
    const seg = outcome.segments[0];
    if (!seg || outcome.segments.length !== 1)
      throw new Error(`expected one segment, got ${outcome.segments.length}`);
    if (compress) await compressSegment(store.archive, seg.key, config.logFileMode);
    return seg;
  });
  rmSync(live, { force: true });
  return { key: keys.key, plainBytes: keys.bytes, compressed: compress, live: bytes };
}
