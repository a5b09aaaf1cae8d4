// Gzip segments in members of MEMBER_BYTES plain bytes, with a member index in a last, empty member:
// a read from an offset (a tail, a resumed transfer) decodes from the member holding it, not from 0.
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { gunzipSync, gzip, gzipSync } from 'node:zlib';

/** Plain bytes per gzip member: small enough that a tail decodes little, big enough to compress well. */
export const MEMBER_BYTES = 64 * 1024;

/** Where a member starts: its first plain byte and its first byte in the gzip file. */
export interface MemberStart {
  plain: number;
  gz: number;
}

const gzipAsync = promisify(gzip);

/** One gzip member of `chunk` (level 6, as every segment). */
export function gzipMember(chunk: Buffer): Buffer {
  return gzipSync(chunk, { level: 6 });
}

/** The same on libuv's thread pool. */
function gzipMemberAsync(chunk: Buffer): Promise<Buffer> {
  return gzipAsync(chunk, { level: 6 });
}

/** Writes all of `data` at the fd's position. */
function writeAll(fd: number, data: Buffer): void {
  for (let w = 0; w < data.length;) w += fs.writeSync(fd, data, w, data.length - w);
}

/** Writes a gzip segment to an fd: members of at most MEMBER_BYTES plain bytes, then the index. */
export class MemberWriter {
  private readonly starts: MemberStart[] = [];
  private plain = 0;
  private written = 0;

  constructor(private readonly fd: number) {}

  /** Compresses `chunk` on this thread (a seal: short, and its lock is held anyway). */
  add(chunk: Buffer): void {
    for (let m = 0; m < chunk.length; m += MEMBER_BYTES) {
      const part = chunk.subarray(m, m + MEMBER_BYTES);
      this.member(part.length, gzipMember(part));
    }
  }

  /** Compresses `chunk` on the thread pool (retention: long runs must not hold the event loop). */
  async addAsync(chunk: Buffer): Promise<void> {
    for (let m = 0; m < chunk.length; m += MEMBER_BYTES) {
      const part = chunk.subarray(m, m + MEMBER_BYTES);
      this.member(part.length, await gzipMemberAsync(part));
    }
  }

  /** Writes the index member; the file is complete once the caller fsyncs it. */
  end(): void {
    writeAll(this.fd, indexMember(this.starts));
  }

  private member(plainBytes: number, packed: Buffer): void {
    this.starts.push({ plain: this.plain, gz: this.written });
    writeAll(this.fd, packed);
    this.plain += plainBytes;
    this.written += packed.length;
  }
}

// The index member: a gzip header with FEXTRA subfields 'VC' (version byte, then per member 6-byte
// LE plain and gz offsets) and, last, 'VL' (u32 LE length of this member), then an empty deflate
// block, CRC32 0 and ISIZE 0 (RFC 1952). Any gunzip decodes it to nothing.
const SI_TABLE = [0x56, 0x43];
const SI_LENGTH = [0x56, 0x4c];
const HEADER = [0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff];
const EMPTY_BODY = [0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
/** 'VL', its length 4, the u32, then the empty body: what a reader checks at the end of a file. */
const TAIL_BYTES = 4 + 4 + EMPTY_BODY.length;
const ENTRY_BYTES = 12;
const MAX_XLEN = 0xffff;

/** The index member for `members` (sparser if they do not fit one header: every k-th start kept). */
export function indexMember(members: readonly MemberStart[]): Buffer {
  const room = Math.floor((MAX_XLEN - 8 - 4 - 1) / ENTRY_BYTES);
  const step = Math.max(1, Math.ceil(members.length / room));
  const kept = members.filter((_, i) => i % step === 0);
  const table = Buffer.alloc(1 + kept.length * ENTRY_BYTES);
  table[0] = 1;
  kept.forEach((m, i) => {
    table.writeUIntLE(m.plain, 1 + i * ENTRY_BYTES, 6);
    table.writeUIntLE(m.gz, 7 + i * ENTRY_BYTES, 6);
  });
  const xlen = 4 + table.length + 8;
  const total = HEADER.length + 2 + xlen + EMPTY_BODY.length;
  const out = Buffer.alloc(total);
  let o = 0;
  for (const b of HEADER) out[o++] = b;
  o = out.writeUInt16LE(xlen, o);
  out[o++] = SI_TABLE[0] as number;
  out[o++] = SI_TABLE[1] as number;
  o = out.writeUInt16LE(table.length, o);
  o += table.copy(out, o);
  out[o++] = SI_LENGTH[0] as number;
  out[o++] = SI_LENGTH[1] as number;
  o = out.writeUInt16LE(4, o);
  o = out.writeUInt32LE(total, o);
  for (const b of EMPTY_BODY) out[o++] = b;
  return out;
}

/** A gzip segment's member starts and where its content ends (the index member's first byte). */
export interface MemberIndex {
  starts: MemberStart[];
  end: number;
}

/**
 * The member index recorded at the end of a gzip file of `size` bytes, read through `readAt`
 * (bytes at an offset); undefined for a file without a valid index (an older segment, damage).
 */
export function parseMemberIndex(
  size: number,
  readAt: (offset: number, length: number) => Buffer,
): MemberIndex | undefined {
  if (size < TAIL_BYTES + HEADER.length + 2) return undefined;
  const tail = readAt(size - TAIL_BYTES, TAIL_BYTES);
  if (tail.length !== TAIL_BYTES || tail[0] !== SI_LENGTH[0] || tail[1] !== SI_LENGTH[1]) return undefined;
  if (tail.readUInt16LE(2) !== 4 || !EMPTY_BODY.every((b, i) => tail[8 + i] === b)) return undefined;
  const total = tail.readUInt32LE(4);
  if (total > size || total < HEADER.length + 2 + TAIL_BYTES) return undefined;
  const member = readAt(size - total, total);
  if (member.length !== total || !HEADER.every((b, i) => member[i] === b)) return undefined;
  const xlen = member.readUInt16LE(HEADER.length);
  if (HEADER.length + 2 + xlen + EMPTY_BODY.length !== total) return undefined;
  const extra = member.subarray(HEADER.length + 2, HEADER.length + 2 + xlen);
  if (extra[0] !== SI_TABLE[0] || extra[1] !== SI_TABLE[1]) return undefined;
  const len = extra.readUInt16LE(2);
  if (4 + len + 8 !== xlen || extra[4] !== 1 || (len - 1) % ENTRY_BYTES) return undefined;
  const out: MemberStart[] = [];
  for (let o = 5; o < 4 + len; o += ENTRY_BYTES) {
    const m = { plain: extra.readUIntLE(o, 6), gz: extra.readUIntLE(o + 6, 6) };
    const prev = out[out.length - 1];
    // Starts strictly increasing, from (0, 0), all before the index member: anything else is not ours.
    if (prev ? m.plain <= prev.plain || m.gz <= prev.gz : m.plain !== 0 || m.gz !== 0) return undefined;
    if (m.gz >= size - total) return undefined;
    out.push(m);
  }
  return out.length ? { starts: out, end: size - total } : undefined;
}

/** The member index of an open gzip segment (see parseMemberIndex). */
export function readMemberIndex(fd: number): MemberIndex | undefined {
  const { size } = fs.fstatSync(fd);
  return parseMemberIndex(size, (offset, length) => {
    const buf = Buffer.alloc(length);
    return buf.subarray(0, fs.readSync(fd, buf, 0, length, offset));
  });
}

/** The index of the last member starting at or before plain offset `at` (-1 before the first). */
function memberIndexAt(starts: readonly MemberStart[], at: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((starts[mid] as MemberStart).plain <= at) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** The last member starting at or before plain offset `at` (the start of the file without an index). */
export function memberAt(index: MemberIndex | undefined, at: number): MemberStart {
  return (index && index.starts[memberIndexAt(index.starts, at)]) ?? { plain: 0, gz: 0 };
}

/**
 * Plain bytes [a, b) of an indexed gzip segment, member by member, decoded synchronously: a few
 * 64 KiB members cost far less than a stream's round trips through the thread pool.
 */
export function* indexedGunzip(fd: number, index: MemberIndex, a: number, b: number): Generator<Buffer> {
  const { starts, end } = index;
  for (let i = Math.max(0, memberIndexAt(starts, a)); i < starts.length; i++) {
    const m = starts[i] as MemberStart;
    if (m.plain >= b) return;
    const to = starts[i + 1]?.gz ?? end;
    const packed = Buffer.allocUnsafe(to - m.gz);
    if (fs.readSync(fd, packed, 0, packed.length, m.gz) !== packed.length)
      throw new Error('gzip segment shrank');
    const plain = gunzipSync(packed);
    const from = Math.max(0, a - m.plain);
    const upto = Math.min(plain.length, b - m.plain);
    if (upto > from) yield plain.subarray(from, upto);
  }
}
