// The fault matrix's sealed-segment comparison: a segment retention compressed is unchanged; one
// changed byte (plain or inside a gzip segment) or a segment gone is reported. The first test runs
// the store operations that renamed segment 4 in the CI run of issue 14.
import test from 'ava';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { archiveDir, liveLogPath } from '../../src/store/layout.js';
import { applyDomainRetention } from '../../src/store/retention.js';
import { sealDevice } from '../../src/store/seal.js';
import { withStore } from '../../src/store/session.js';
import { tempConfig, UUID } from '../store/helpers.js';
import { seqLines } from './common.js';
import { changedSegments, sealedSegments } from './sealed-segments.js';

/** What the matrix did before this module: file name -> sha256 of the bytes on disk. */
function byFileName(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of fs.readdirSync(dir).filter((f) => /\.seg(\.gz)?$/.test(f)))
    out.set(
      f,
      createHash('sha256')
        .update(fs.readFileSync(join(dir, f)))
        .digest('hex'),
    );
  return out;
}

/** Flips one bit of byte `at` of a file as stored. */
function flipStored(file: string, at: number): void {
  const b = fs.readFileSync(file);
  b[at] = (b[at] as number) ^ 0x01;
  fs.writeFileSync(file, b);
}

/** Changes one byte of a gzip segment's decoded content and stores it gzipped again (a valid file). */
function flipDecoded(file: string, at: number): void {
  const plain = gunzipSync(fs.readFileSync(file));
  plain[at] = (plain[at] as number) ^ 0x01;
  fs.writeFileSync(file, gzipSync(plain));
}

/** A store with two segments of a truncating file serial: one gzipped at seal (stop), one plain (prepare). */
async function storeWithSegments() {
  const config = tempConfig({ compressMinBytes: 4096 });
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  fs.mkdirSync(join(live, '..'), { recursive: true });
  const seal = (compress: boolean, reason: string) =>
    withStore(config, UUID, (store) =>
      sealDevice(
        store,
        {
          host: 'hosta',
          device: 'serial0',
          path: live,
          generation: 0,
          reason,
          truncateNext: true,
          truncating: true,
          compress,
        },
        new Date(),
      ),
    );
  // Boots of 300 lines (8100 bytes, over compress_min_bytes), as on the slow CI machine.
  fs.writeFileSync(live, seqLines('aaaaaaaa', 0, 300));
  const stop = (await seal(true, 'stop')).segments[0]?.key as string;
  fs.writeFileSync(live, seqLines('bbbbbbbb', 0, 300));
  const restart = (await seal(false, 'restart')).segments[0]?.key as string;
  return { config, dir: archiveDir(config.logRoot, UUID), stop, restart };
}

test('a segment sealed plain at prepare and gzipped by the next retention pass is the same segment', async (t) => {
  const { config, dir, stop, restart } = await storeWithSegments();
  t.true(fs.existsSync(join(dir, `${stop}.seg.gz`)), 'sealed at stop: gzipped while sealing');
  t.true(fs.existsSync(join(dir, `${restart}.seg`)), 'sealed at prepare: plain (no gzip on the start path)');
  const before = sealedSegments(dir);
  const beforeByName = byFileName(dir);
  // The next release's retention pass (stop.ts) compresses plain segments of compress_min_bytes.
  const r = await withStore(config, UUID, (store) => applyDomainRetention(store, new Date()));
  t.deepEqual(
    r.compressed.map((c) => c.key),
    [restart],
  );
  t.false(fs.existsSync(join(dir, `${restart}.seg`)));
  // The old comparison (file name + stored bytes) called that segment lost: issue 14's CI failure.
  t.deepEqual(changedSegments(beforeByName, byFileName(dir)), [`${restart}.seg`]);
  t.deepEqual(changedSegments(before, sealedSegments(dir)), [], 'same keys, same decoded bytes');
});

test('one changed byte of a sealed segment is reported: plain, gzip (decoded content), gzip (stored bytes)', async (t) => {
  const { dir, stop, restart } = await storeWithSegments();
  const before = sealedSegments(dir);
  t.is(before.size, 2);
  flipStored(join(dir, `${restart}.seg`), 100);
  t.deepEqual(changedSegments(before, sealedSegments(dir)), [restart], 'a byte of a plain segment');
  flipStored(join(dir, `${restart}.seg`), 100);
  t.deepEqual(changedSegments(before, sealedSegments(dir)), [], 'flipped back: unchanged');
  flipDecoded(join(dir, `${stop}.seg.gz`), 5000);
  t.deepEqual(changedSegments(before, sealedSegments(dir)), [stop], 'a byte inside a gzip segment');
  flipDecoded(join(dir, `${stop}.seg.gz`), 5000);
  t.deepEqual(changedSegments(before, sealedSegments(dir)), [], 'flipped back: unchanged');
  // A stored byte of the gzip data: its CRC (or inflate) fails, and that counts as changed.
  flipStored(join(dir, `${stop}.seg.gz`), 20);
  t.deepEqual(changedSegments(before, sealedSegments(dir)), [stop], 'a stored byte of a gzip segment');
  t.regex(sealedSegments(dir).get(stop) ?? '', /^unreadable: /);
});

test('a sealed segment gone is reported; new segments are not', async (t) => {
  const { config, dir, stop, restart } = await storeWithSegments();
  const before = sealedSegments(dir);
  fs.rmSync(join(dir, `${restart}.seg`));
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  fs.writeFileSync(live, seqLines('cccccccc', 0, 10));
  await withStore(config, UUID, (store) =>
    sealDevice(
      store,
      {
        host: 'hosta',
        device: 'serial0',
        path: live,
        generation: 0,
        reason: 'stop',
        truncateNext: true,
        truncating: true,
      },
      new Date(),
    ),
  );
  const now = sealedSegments(dir);
  t.is(now.size, 2);
  t.deepEqual(changedSegments(before, now), [restart]);
  t.true(now.has(stop));
});
