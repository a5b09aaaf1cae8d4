// Segment content as streams: reading a segment (gzip or plain) from an offset, importing a peer's
// segment, compressing a plain one. segments.ts lists, publishes and deletes segments.
import * as fs from 'node:fs';
import { createHash } from '../util/crypto.js';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Config } from '../config/schema.js';
import { memberAt, MEMBER_BYTES, MemberWriter, readMemberIndex } from './gzip-members.js';
import { parseSegmentKey, segmentFileNames, segmentKey } from './layout.js';
import type { SafeDir } from './safe-fs.js';
import { listArchive, openArchive, openSegmentFile, publishSegment, type SegmentMeta } from './segments.js';

const C = fs.constants;

/**
 * A segment's plain content from byte `offset` as a stream (gzip segments are decompressed and
 * the first `offset` bytes skipped). Throws ENOENT if the segment is gone (pruned meanwhile).
 */
export function openSegment(config: Config, uuid: string, key: string, offset = 0): Readable {
  const archive = openArchive(config, uuid);
  if (!archive) throw Object.assign(new Error(`no archive for ${uuid}`), { code: 'ENOENT' });
  try {
    const { fd, gz } = openSegmentFile(archive, key);
    if (!gz) return fs.createReadStream('', { fd, start: offset, highWaterMark: 256 * 1024 });
    const from = offset ? memberAt(readMemberIndex(fd), offset) : { plain: 0, gz: 0 };
    return fs
      .createReadStream('', { fd, start: from.gz, highWaterMark: 256 * 1024 })
      .pipe(createGunzip())
      .pipe(skipBytes(offset - from.plain));
  } finally {
    archive.close();
  }
}

function skipBytes(n: number): Transform {
  let left = n;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (left >= chunk.length) {
        left -= chunk.length;
        return cb();
      }
      const out = left > 0 ? chunk.subarray(left) : chunk;
      left = 0;
      cb(null, out);
    },
  });
}

export interface ImportResult {
  key: string;
  /** False when an identical segment (same sha256 from the same origin) was already there. */
  imported: boolean;
}

/**
 * Imports a segment fetched from a peer, idempotently. `meta` is the peer's sidecar, `content`
 * its plain bytes. The segment is content-addressed by sha256 + origin host + peer key: importing
 * it again is a no-op. Content is verified against meta.sha256/plainBytes before it becomes
 * visible; a partial or corrupt transfer leaves nothing visible. Call under the domain lock
 * (withDomainLock); `nextSeq` is not touched (imported keys keep the peer's key when free).
 */
export async function importSegment(
  config: Config,
  uuid: string,
  meta: SegmentMeta,
  content: AsyncIterable<Buffer> | Readable,
): Promise<ImportResult> {
  const peerKey = parseSegmentKey(meta.key);
  if (!peerKey) throw new Error(`bad segment key from peer: ${JSON.stringify(meta.key)}`);
  if (!/^[0-9a-f]{64}$/.test(meta.sha256)) throw new Error('bad sha256 in peer sidecar');
  const archive = openArchive(config, uuid, true) as SafeDir;
  try {
    const originKey = meta.importedFrom?.key ?? meta.key;
    const originHost = meta.importedFrom?.host ?? meta.host;
    const existing = listArchive(archive);
    const same = existing.find(
      (s) =>
        s.sha256 === meta.sha256 &&
        (s.importedFrom?.host ?? s.host) === originHost &&
        (s.importedFrom?.key ?? s.key) === originKey,
    );
    if (same) return { key: same.key, imported: false };
    const tmp = archive.tempName('import');
    const fd = archive.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL, config.logFileMode);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      const out = fs.createWriteStream('', { fd, autoClose: false });
      await pipeline(
        content,
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            hash.update(chunk);
            bytes += chunk.length;
            cb(null, chunk);
          },
        }),
        out,
      );
      fs.fsyncSync(fd);
    } catch (e) {
      fs.closeSync(fd);
      archive.unlink(tmp);
      throw e;
    }
    fs.closeSync(fd);
    const sha = hash.digest('hex');
    if (sha !== meta.sha256 || bytes !== meta.plainBytes) {
      archive.unlink(tmp);
      throw new Error(
        `segment ${meta.key} from ${originHost}: content does not match its sidecar (${bytes} bytes, sha256 ${sha})`,
      );
    }
    const taken = new Set(existing.map((s) => s.key));
    let key = meta.key;
    for (let seq = peerKey.seq; taken.has(key); seq++)
      key = segmentKey(peerKey.generation, seq, peerKey.host);
    const { watermark: _peerWatermark, ...rest } = meta;
    const mine: SegmentMeta = {
      ...rest,
      key,
      seq: parseSegmentKey(key)?.seq ?? peerKey.seq,
      reason: meta.reason,
      importedFrom: { host: originHost, key: originKey },
    };
    publishSegment(archive, tmp, mine, config.logFileMode);
    return { key, imported: true };
  } finally {
    archive.close();
  }
}

/**
 * Replaces a plain segment by its gzip form (written whole to a temp file, fsynced, renamed,
 * then the plain file removed). Returns the bytes saved. Call under the lock.
 */
export async function compressSegment(archive: SafeDir, key: string, mode: number): Promise<number> {
  const names = segmentFileNames(key);
  const src = archive.lstat(names.plain);
  if (!src?.isFile()) return 0;
  const tmp = archive.tempName(key);
  const infd = archive.open(names.plain, C.O_RDONLY);
  const outfd = archive.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL, mode);
  try {
    const buf = Buffer.allocUnsafe(MEMBER_BYTES);
    const members = new MemberWriter(outfd);
    for (let pos = 0, n = 0; (n = fs.readSync(infd, buf, 0, buf.length, pos)); pos += n)
      await members.addAsync(buf.subarray(0, n));
    members.end();
    fs.fsyncSync(outfd);
  } catch (e) {
    archive.unlink(tmp);
    throw e;
  } finally {
    fs.closeSync(infd);
    fs.closeSync(outfd);
  }
  const size = archive.lstat(tmp)?.size ?? 0;
  if (size >= src.size) {
    archive.unlink(tmp);
    return 0;
  }
  archive.rename(tmp, names.gz);
  archive.fsync();
  archive.unlink(names.plain);
  archive.fsync();
  return src.size - size;
}
