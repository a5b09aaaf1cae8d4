// Gzip segments in members with an index at the end: any gunzip reads them whole, the index is
// found and checked, and a read from an offset decodes from the member holding it.
import test from 'ava';
import { execa } from 'execa';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readHistory } from '../../src/history/reader.js';
import {
  gzipMember,
  indexedGunzip,
  indexMember,
  memberAt,
  MEMBER_BYTES,
  parseMemberIndex,
  readMemberIndex,
  type MemberIndex,
  type MemberStart,
} from '../../src/store/gzip-members.js';
import { liveLogPath } from '../../src/store/layout.js';
import { compressSegment, openSegment } from '../../src/store/segment-content.js';
import { listSegments, openArchive } from '../../src/store/segments.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

function lines(n: number, seed: number): Buffer {
  let s = '';
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    s += `line ${String(i).padStart(6, '0')} ${x.toString(36).repeat(1 + (x % 7))}\n`;
  }
  return Buffer.from(s);
}

/** `content` as this project writes a gzip segment: members of MEMBER_BYTES, the index last. */
function membered(content: Buffer): { file: Buffer; starts: MemberStart[] } {
  const parts: Buffer[] = [];
  const starts: MemberStart[] = [];
  let gz = 0;
  for (let p = 0; p < content.length; p += MEMBER_BYTES) {
    starts.push({ plain: p, gz });
    const m = gzipMember(content.subarray(p, p + MEMBER_BYTES));
    parts.push(m);
    gz += m.length;
  }
  parts.push(indexMember(starts));
  return { file: Buffer.concat(parts), starts };
}

const at = (file: Buffer) => (offset: number, length: number) => file.subarray(offset, offset + length);

test('any gunzip reads the members and the index member as the content (Node, gzip -t, zcat)', async (t) => {
  const content = lines(20_000, 7);
  const { file, starts } = membered(content);
  t.true(starts.length > 5);
  t.true(gunzipSync(file).equals(content));
  const dir = fs.mkdtempSync(join(tmpdir(), 'vcl-gz-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'x.seg.gz');
  fs.writeFileSync(path, file);
  t.is((await execa('gzip', ['-t', path], { reject: false })).exitCode, 0);
  const z = await execa('zcat', [path], { encoding: 'buffer', stripFinalNewline: false });
  t.true(Buffer.from(z.stdout).equals(content));
});

test('the index is found at the end and gives every member start; members decode on their own', (t) => {
  const content = lines(20_000, 3);
  const { file, starts } = membered(content);
  const index = parseMemberIndex(file.length, at(file));
  t.deepEqual(index?.starts, starts);
  t.is(index?.end, file.length - indexMember(starts).length);
  t.deepEqual(memberAt(index, 0), { plain: 0, gz: 0 });
  t.deepEqual(memberAt(index, MEMBER_BYTES - 1), starts[0]);
  t.deepEqual(memberAt(index, MEMBER_BYTES), starts[1]);
  t.deepEqual(memberAt(index, 3 * MEMBER_BYTES + 5), starts[3]);
  t.deepEqual(memberAt(undefined, 12345), { plain: 0, gz: 0 });
  const dir = fs.mkdtempSync(join(tmpdir(), 'vcl-gz-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'x.seg.gz');
  fs.writeFileSync(path, file);
  const fd = fs.openSync(path, 'r');
  try {
    const ranges = [
      [0, content.length],
      [0, 1],
      [5, MEMBER_BYTES + 9],
      [MEMBER_BYTES, 2 * MEMBER_BYTES],
      [3 * MEMBER_BYTES - 1, content.length - 2],
      [content.length - 1, content.length],
      [100, 100],
    ] as const;
    for (const [a, b] of ranges)
      t.true(
        Buffer.concat([...indexedGunzip(fd, index as MemberIndex, a, b)]).equals(content.subarray(a, b)),
        `[${a}, ${b})`,
      );
  } finally {
    fs.closeSync(fd);
  }
});

test('too many members for one header: a sparser index, still exact starts', (t) => {
  const starts = Array.from({ length: 12_000 }, (_, i) => ({ plain: i * 100, gz: i * 40 }));
  const idx = indexMember(starts);
  const file = Buffer.concat([Buffer.alloc(12_000 * 40), idx]);
  const got = parseMemberIndex(file.length, at(file))?.starts ?? [];
  t.true(got.length < starts.length && got.length > 2000);
  for (const m of got) t.is(m.gz * 100, m.plain * 40, 'a start of the full list');
});

test('no index, or one that is not right: undefined (read from the start as before)', (t) => {
  const content = lines(5000, 1);
  const plainGzip = gzipSync(content);
  t.is(parseMemberIndex(plainGzip.length, at(plainGzip)), undefined, 'one gzip stream of before');
  const { file } = membered(content);
  t.is(parseMemberIndex(file.length - 1, at(file.subarray(0, -1))), undefined, 'truncated');
  t.is(parseMemberIndex(10, at(file)), undefined, 'tiny');
  // A start past the index member, a start going backwards, a first start not at 0: each refused.
  const tamper = (f: (b: Buffer, table: number) => void) => {
    const b = Buffer.from(file);
    const total = b.readUInt32LE(b.length - 14);
    f(b, b.length - total + 12 + 4 + 1);
    return parseMemberIndex(b.length, at(b));
  };
  t.is(
    tamper((b, table) => b.writeUIntLE(b.length, table + 12 + 6, 6)),
    undefined,
    'past the end',
  );
  t.is(
    tamper((b, table) => b.writeUIntLE(0, table + 12, 6)),
    undefined,
    'backwards',
  );
  t.is(
    tamper((b, table) => b.writeUIntLE(7, table, 6)),
    undefined,
    'not from 0',
  );
  t.is(
    tamper((b) => (b[b.length - 11] = 1)),
    undefined,
    'not an empty member',
  );
});

/** A guest with one boot of `content`, sealed at stop with gzip (or plain, then compressed). */
async function sealed(content: Buffer, compressMinBytes: number) {
  const { config, env } = hookEnv({ compressMinBytes });
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, content);
  await hook(env, ['guest1', 'release', 'end', 'shutdown'], xml);
  const [seg] = listSegments(config, UUID);
  if (!seg) throw new Error('no segment');
  return { config, seg };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

for (const how of ['sealed with gzip', 'sealed plain, compressed by retention'] as const) {
  test(`${how}: indexed members, a read from any offset gives the content from there`, async (t) => {
    const content = lines(40_000, 11);
    const { config, seg } = await sealed(content, how === 'sealed with gzip' ? 1 : -1);
    const archive = openArchive(config, UUID);
    if (!archive) throw new Error('no archive');
    // The reference: the segment decoded whole by Node's gunzip (the guest's bytes after the boot marker).
    let whole: Buffer;
    try {
      if (how !== 'sealed with gzip') t.true((await compressSegment(archive, seg.key, 0o640)) > 0);
      const fd = archive.open(`${seg.key}.seg.gz`, fs.constants.O_RDONLY);
      try {
        whole = gunzipSync(fs.readFileSync(fd));
        t.is(readMemberIndex(fd)?.starts.length, Math.ceil(whole.length / MEMBER_BYTES));
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      archive.close();
    }
    t.true(whole.subarray(whole.length - content.length).equals(content));
    for (const off of [0, 1, MEMBER_BYTES - 1, MEMBER_BYTES, 2 * MEMBER_BYTES + 17, whole.length - 3])
      t.true(
        (await readAll(openSegment(config, UUID, seg.key, off))).equals(whole.subarray(off)),
        `from ${off}`,
      );
    // The reader's tails: short ones decode their members at once, long ones stream from a member.
    const read = async (o: { lines?: number; bytes?: number }) => {
      let out = '';
      for await (const e of readHistory(config, 'guest1', o))
        if (e.type === 'data') out += e.data.toString('latin1');
      return out;
    };
    const raw = await read({ bytes: 1e12 });
    t.true(raw.length > 1024 * 1024 + 2 * MEMBER_BYTES, 'longer than a range decoded at once');
    t.is(
      await read({ lines: 3 }),
      content
        .toString('latin1')
        .split(/(?<=\n)/)
        .slice(-3)
        .join(''),
    );
    for (const c of [1, 100_000, 1024 * 1024 + 5, raw.length - 7])
      t.is(await read({ bytes: c }), raw.slice(-c), `-c ${c}`);
  });
}
