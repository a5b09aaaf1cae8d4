// Target 5: bytes on disk per byte of guest output, the store's gzip archive vs virtlogd's raw files.
// The history is sealed with the store's own code (bench/lib/history.ts); virtlogd's layout is the same
// bytes in `serial0.log` plus its rotated backups (max_size 2 MiB: `.0` newest).
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listSegments } from '../src/store/segments.js';
import { bootLog } from './lib/bootlog.js';
import { benchConfig, sealBoot } from './lib/history.js';
import type { Target } from './lib/result.js';
import { round } from './lib/stats.js';

const VIRTLOGD_MAX_SIZE = 2 * 1024 * 1024;

interface DiskUse {
  files: number;
  /** Each file: path below the measured folder, apparent and allocated bytes. */
  list: [string, number, number][];
  apparentBytes: number;
  /** st_blocks * 512: what the file system really holds. */
  allocatedBytes: number;
}

function diskUse(path: string): DiskUse {
  const use: DiskUse = { files: 0, list: [], apparentBytes: 0, allocatedBytes: 0 };
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) walk(join(p, e));
    } else {
      use.files++;
      use.list.push([p.slice(path.length + 1), st.size, st.blocks * 512]);
      use.apparentBytes += st.size;
      use.allocatedBytes += st.blocks * 512;
    }
  };
  walk(path);
  return use;
}

interface Scenario {
  name: string;
  boots: Buffer[];
}

export interface StorageRow {
  scenario: string;
  boots: number;
  guestBytes: number;
  raw: DiskUse;
  store: DiskUse & { segments: number; gzipSegments: number; sealMs: number };
  rawPerGuestByte: number;
  storePerGuestByte: number;
  storeVsRaw: number;
}

function scenarios(): Scenario[] {
  const boot = (seed: number, runtime = 0) => Buffer.from(bootLog(seed, { runtimeBytes: runtime }));
  return [
    { name: 'one typical boot (kernel + systemd + login prompt)', boots: [boot(11)] },
    {
      name: '10 boots, each with 64 KiB of runtime output',
      boots: Array.from({ length: 10 }, (_, i) => boot(20 + i, 64 * 1024)),
    },
    { name: 'one boot followed by 2 MiB of runtime output', boots: [boot(31, 2 * 1024 * 1024)] },
  ];
}

function writeVirtlogdFiles(dir: string, content: Buffer): void {
  // virtlogd appends to serial0.log and rolls it at max_size: serial0.log.0 is the newest backup.
  const chunks: Buffer[] = [];
  for (let off = 0; off < content.length; off += VIRTLOGD_MAX_SIZE)
    chunks.push(content.subarray(off, off + VIRTLOGD_MAX_SIZE));
  mkdirSync(dir, { recursive: true });
  const names = chunks.map((_, i) =>
    i === chunks.length - 1 ? 'serial0.log' : `serial0.log.${chunks.length - 2 - i}`,
  );
  chunks.forEach((c, i) => writeFileSync(join(dir, names[i] as string), c));
}

export async function benchStorage(
  _repo: string,
  _opts: { quick: boolean },
): Promise<{
  rows: StorageRow[];
  targets: Target[];
  details: { title: string; head: string[]; rows: (string | number)[][] }[];
}> {
  const root = mkdtempSync('/var/tmp/vcl-bench-storage-');
  const rows: StorageRow[] = [];
  try {
    for (const [i, s] of scenarios().entries()) {
      const logRoot = join(root, `store-${i}`);
      const config = benchConfig(logRoot, 'benchhost');
      const uuid = `5e000000-0000-4000-8000-${i.toString().padStart(12, '0')}`;
      const t0 = process.hrtime.bigint();
      let guestBytes = 0;
      const lives: Buffer[] = [];
      for (const [b, content] of s.boots.entries()) {
        // compress as the store's policy does: gzip from compress_min_bytes up
        const sealed = await sealBoot(
          config,
          uuid,
          b,
          content,
          content.length >= config.compressMinBytes,
          new Date(Date.UTC(2026, 0, 1, 0, b)),
        );
        guestBytes += sealed.plainBytes;
        lives.push(sealed.live);
      }
      const sealMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const segs = listSegments(config, uuid);
      // virtlogd's files hold the same bytes, boot markers included (the plugin writes them there too).
      const rawDir = join(root, `raw-${i}`);
      writeVirtlogdFiles(rawDir, Buffer.concat(lives));
      const raw = diskUse(rawDir);
      const store = diskUse(join(logRoot, uuid));
      rows.push({
        scenario: s.name,
        boots: s.boots.length,
        guestBytes,
        raw,
        store: {
          ...store,
          segments: segs.length,
          gzipSegments: segs.filter((x) => x.compressed).length,
          sealMs: round(sealMs, 1),
        },
        rawPerGuestByte: round(raw.allocatedBytes / guestBytes, 3),
        storePerGuestByte: round(store.allocatedBytes / guestBytes, 3),
        storeVsRaw: round(store.allocatedBytes / raw.allocatedBytes, 3),
      });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const typical = rows[0] as StorageRow;
  return {
    rows,
    targets: [
      {
        id: 'storage.typical-boot',
        what: 'bytes on disk per byte of guest output, typical boot log: store (gzip archive) vs virtlogd raw file',
        limit: 'reported; store below raw',
        measured: `${typical.storePerGuestByte} vs ${typical.rawPerGuestByte} (${typical.guestBytes} bytes of output)`,
        met: typical.storePerGuestByte < typical.rawPerGuestByte,
      },
    ],
    details: [
      {
        title: 'Bytes on disk (allocated blocks, st_blocks x 512) per byte of guest output',
        head: [
          'scenario',
          'guest bytes',
          'virtlogd files',
          'virtlogd bytes on disk',
          'per guest byte',
          'store files',
          'store bytes on disk (apparent)',
          'per guest byte',
          'store / virtlogd',
          'gzip segments',
          'seal+gzip ms',
        ],
        rows: rows.map((r) => [
          r.scenario,
          r.guestBytes,
          r.raw.files,
          r.raw.allocatedBytes,
          r.rawPerGuestByte,
          r.store.files,
          `${r.store.allocatedBytes} (${r.store.apparentBytes})`,
          r.storePerGuestByte,
          r.storeVsRaw,
          `${r.store.gzipSegments}/${r.store.segments}`,
          r.store.sealMs,
        ]),
      },
      {
        title: `Files of the store for "${typical.scenario}" (fixed per-domain files and per-segment sidecars cost a 4 KiB block each)`,
        head: ['file', 'apparent bytes', 'bytes on disk'],
        rows: typical.store.list.map(([name, a, b]) => [name, a, b]),
      },
    ],
  };
}
