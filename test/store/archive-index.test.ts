// The archive index is a cache: whatever state it is in, readers list exactly the segments the
// sidecars describe (never one hidden, never one invented), and retention puts it right again.
import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  indexEntry,
  indexLine,
  indexNeedsRewrite,
  indexText,
  INDEX_HEADER,
  parseIndex,
  type IndexEntry,
} from '../../src/store/archive-index.js';
import { INDEX_NAME, liveLogPath } from '../../src/store/layout.js';
import { applyDomainRetention } from '../../src/store/retention.js';
import { sealDevice } from '../../src/store/seal.js';
import { withStore } from '../../src/store/session.js';
import { importSegment } from '../../src/store/segment-content.js';
import {
  deleteSegment,
  listArchive,
  listArchiveForReading,
  listSegments,
  openArchive,
  setFailpoint,
  setOrderGenerations,
  type SegmentMeta,
} from '../../src/store/segments.js';
import { tempConfig, UUID } from './helpers.js';

type TestConfig = ReturnType<typeof tempConfig>;

const entry = (seq: number, over: Partial<IndexEntry> = {}): IndexEntry => ({
  key: `000000-${String(seq).padStart(8, '0')}-hosta`,
  host: 'hosta',
  generation: 0,
  seq,
  device: 'serial0',
  plainBytes: 10 * seq,
  lines: seq,
  firstTime: '2026-01-01T00:00:00.000Z',
  lastTime: '2026-01-01T00:00:01.000Z',
  boots: [],
  ...over,
});

/** Appends `text` to the live file and seals it: one new segment each time. */
async function seal(config: TestConfig, text: string): Promise<void> {
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  fs.mkdirSync(join(live, '..'), { recursive: true });
  fs.appendFileSync(live, text);
  await withStore(config, UUID, (store) =>
    sealDevice(
      store,
      { host: 'hosta', device: 'serial0', path: live, generation: 0, reason: 'test', truncateNext: false },
      new Date(),
    ),
  );
}

async function store(n: number, over: Partial<TestConfig> = {}): Promise<TestConfig> {
  const config = tempConfig(over);
  for (let i = 0; i < n; i++) await seal(config, `segment ${i}\n`.repeat(i + 1));
  return config;
}

const indexPath = (config: TestConfig) => join(config.logRoot, UUID, 'archive', INDEX_NAME);

/** What a reader lists, and how many sidecars it had to read for it. */
function reading(config: TestConfig): { listed: IndexEntry[]; sidecarsRead: number } {
  const archive = openArchive(config, UUID);
  if (!archive) throw new Error('no archive');
  try {
    const r = listArchiveForReading(archive);
    return { listed: r.segments.map(indexEntry), sidecarsRead: r.sidecarsRead };
  } finally {
    archive.close();
  }
}

/** The truth: the sidecars of the visible segments, as the full listing reads them. */
const truth = (config: TestConfig) => listSegments(config, UUID).map(indexEntry);

async function retention(config: TestConfig): Promise<void> {
  await withStore(config, UUID, (s) => applyDomainRetention(s, new Date(), { compress: false }));
}

test('parseIndex: no file, another first line, a torn last line, a bad line, a key twice', (t) => {
  t.false(parseIndex(undefined).valid);
  t.false(parseIndex('{"other":1}\n' + indexLine(entry(1))).valid);
  t.is(parseIndex('{"virt-consolelog":"archive ind').entries.size, 0);
  const whole = indexText([entry(1), entry(2), entry(3)]);
  t.deepEqual([...parseIndex(whole).entries.keys()], [entry(1).key, entry(2).key, entry(3).key]);
  const torn = whole.slice(0, -10);
  t.deepEqual([...parseIndex(torn).entries.keys()], [entry(1).key, entry(2).key]);
  const bad = whole.replace('"lines":2', '"lines":-2');
  t.deepEqual([...parseIndex(bad).entries.keys()], [entry(1).key, entry(3).key]);
  const notJson = whole.replace(indexLine(entry(2)), '{"key":\n');
  t.deepEqual([...parseIndex(notJson).entries.keys()], [entry(1).key, entry(3).key]);
  const twice = whole + indexLine(entry(2, { plainBytes: 999 }));
  t.is(parseIndex(twice).entries.get(entry(2).key)?.plainBytes, 999);
  // A line whose key disagrees with its generation or sequence is not believed.
  t.is(parseIndex(INDEX_HEADER + '\n' + indexLine(entry(4, { seq: 5 }))).entries.size, 0);
});

test('indexNeedsRewrite: missing, incomplete, contradicting or bloated', (t) => {
  const all = [entry(1), entry(2)];
  t.false(indexNeedsRewrite(indexText(all), all));
  t.true(indexNeedsRewrite(undefined, all));
  t.true(indexNeedsRewrite('{"other":1}\n' + indexLine(entry(1)) + indexLine(entry(2)), all));
  t.true(indexNeedsRewrite(indexText([entry(1)]), all));
  t.true(indexNeedsRewrite(indexText([entry(1), entry(2, { lines: 7 })]), all));
  // A later line of the same key wins, as for readers.
  t.false(indexNeedsRewrite(indexText([entry(1), entry(2, { lines: 7 }), entry(2)]), all));
  const dead = Array.from({ length: 40 }, (_, i) => entry(100 + i));
  t.true(indexNeedsRewrite(indexText([...dead, ...all]), all));
  t.false(indexNeedsRewrite(indexText([entry(100), ...all]), all));
  // Sidecars carry more fields than the index keeps: a line is the entry's fields only.
  const sidecar = { ...entry(1), version: 1, reason: 'stop', sha256: 'ab', origin: { host: 'x' } };
  t.is(indexLine(sidecar), indexLine(entry(1)));
  t.true(indexLine(entry(1)).startsWith('{"key":'));
});

test('each publish appends its entry: a reader reads no sidecar, and lists what the sidecars say', async (t) => {
  const config = await store(4);
  const text = fs.readFileSync(indexPath(config), 'utf8');
  t.true(text.startsWith(INDEX_HEADER + '\n'));
  t.is(text.split('\n').length - 2, 4);
  const r = reading(config);
  t.is(r.sidecarsRead, 0);
  t.deepEqual(r.listed, truth(config));
});

test('setOrderGenerations: the sidecar and the index carry the order; content, key and other lines stay', async (t) => {
  const config = await store(3);
  const before = listSegments(config, UUID);
  const keys = before.map((s) => s.key);
  const archive = openArchive(config, UUID);
  if (!archive) throw new Error('no archive');
  try {
    t.deepEqual(setOrderGenerations(archive, [{ key: keys[1] as string, orderGeneration: 4 }], 0o640), [
      keys[1],
    ]);
    // The same order again writes nothing.
    t.deepEqual(setOrderGenerations(archive, [{ key: keys[1] as string, orderGeneration: 4 }], 0o640), []);
  } finally {
    archive.close();
  }
  const after = listSegments(config, UUID);
  t.deepEqual(
    after.map((s) => [s.key, s.sha256, s.orderGeneration]),
    before.map((s, i) => [s.key, s.sha256, i === 1 ? 4 : undefined]),
  );
  const r = reading(config);
  t.is(r.sidecarsRead, 0);
  t.deepEqual(r.listed, truth(config));
  t.is(r.listed[1]?.orderGeneration, 4);
  // Lines without the field are as before (an older reader's index stays valid); a bad value is a miss.
  t.false(indexLine(entry(1)).includes('orderGeneration'));
  t.is(
    parseIndex(INDEX_HEADER + '\n' + JSON.stringify({ ...entry(1), orderGeneration: -1 }) + '\n').entries
      .size,
    0,
  );
  await retention(config);
  t.deepEqual(reading(config).listed, truth(config));
});

test('a missing index: the reader reads the sidecars; retention writes it again', async (t) => {
  const config = await store(3);
  fs.rmSync(indexPath(config));
  const r = reading(config);
  t.is(r.sidecarsRead, 3);
  t.deepEqual(r.listed, truth(config));
  await retention(config);
  t.is(reading(config).sidecarsRead, 0);
  t.deepEqual(reading(config).listed, truth(config));
});

test('a corrupt or half-written index hides nothing and invents nothing', async (t) => {
  const config = await store(3);
  const whole = fs.readFileSync(indexPath(config), 'utf8');
  fs.writeFileSync(indexPath(config), 'garbage\x00\x01{"key":');
  t.deepEqual(reading(config).listed, truth(config));
  t.is(reading(config).sidecarsRead, 3);
  // Cut inside the last line (a crash mid-append): only that segment costs a sidecar read.
  fs.writeFileSync(indexPath(config), whole.slice(0, whole.length - 20));
  t.deepEqual(reading(config).listed, truth(config));
  t.is(reading(config).sidecarsRead, 1);
  // The next publish ends the torn line first: its own entry is read from the index.
  await seal(config, 'four\n');
  t.deepEqual(reading(config).listed, truth(config));
  t.is(reading(config).sidecarsRead, 1);
  await retention(config);
  t.is(reading(config).sidecarsRead, 0);
});

test.serial(
  'a stale index: a segment deleted or published without its index update (a crash between steps)',
  async (t) => {
    const config = await store(3);
    const before = truth(config);
    // Deleted without touching the index: its line stays, the reader must not list it.
    const archive = openArchive(config, UUID);
    if (!archive) throw new Error('no archive');
    try {
      deleteSegment(archive, before[1]?.key as string);
    } finally {
      archive.close();
    }
    t.deepEqual(reading(config).listed, [before[0], before[2]]);
    t.deepEqual(reading(config).listed, truth(config));
    // Published, then killed before the index append: listed from its sidecar.
    setFailpoint('after-segment-rename');
    try {
      await t.throwsAsync(seal(config, 'crash\n'));
    } finally {
      setFailpoint(undefined);
    }
    const r = reading(config);
    t.is(r.listed.length, 3);
    t.deepEqual(r.listed, truth(config));
    t.is(r.sidecarsRead, 1);
    t.false(fs.readFileSync(indexPath(config), 'utf8').includes(r.listed[2]?.key as string));
    // Retention drops the dead line and adds the missing one.
    await retention(config);
    const text = fs.readFileSync(indexPath(config), 'utf8');
    t.is(text, indexText(truth(config)));
    t.is(reading(config).sidecarsRead, 0);
  },
);

test.serial(
  'a key used again after its segment was deleted: the old line never describes the new segment',
  async (t) => {
    const config = await store(1);
    const [old] = listSegments(config, UUID) as SegmentMeta[];
    if (!old) throw new Error('no segment');
    const archive = openArchive(config, UUID);
    if (!archive) throw new Error('no archive');
    try {
      deleteSegment(archive, old.key);
    } finally {
      archive.close();
    }
    // A peer's segment with the same key arrives (import keeps the peer's key when it is free).
    const content = Buffer.from('from the peer, longer than before\n');
    const { createHash } = await import('node:crypto');
    const meta: SegmentMeta = {
      ...old,
      plainBytes: content.length,
      lines: 1,
      sha256: createHash('sha256').update(content).digest('hex'),
      origin: { ...old.origin, host: 'peer' },
    };
    delete meta.watermark;
    // ... and the process is killed after it became visible, before its index line was appended.
    setFailpoint('after-segment-rename');
    try {
      await t.throwsAsync(
        withStore(config, UUID, () => importSegment(config, UUID, meta, Readable.from([content]))),
      );
    } finally {
      setFailpoint(undefined);
    }
    const r = reading(config);
    t.is(r.listed.length, 1);
    t.is(r.listed[0]?.key, old.key);
    t.is(r.listed[0]?.plainBytes, content.length, 'the old line was dropped before the new sidecar');
    t.deepEqual(r.listed, truth(config));
    t.is(r.sidecarsRead, 1);
  },
);

test('retention rewrites an index that contradicts a sidecar', async (t) => {
  const config = await store(2);
  const text = fs.readFileSync(indexPath(config), 'utf8');
  fs.writeFileSync(indexPath(config), text.replace('"lines":2', '"lines":5'));
  await retention(config);
  t.is(fs.readFileSync(indexPath(config), 'utf8'), indexText(truth(config)));
});

test('a symlink or a folder in place of the index is not followed: the sidecars are read', async (t) => {
  const config = await store(2);
  fs.rmSync(indexPath(config));
  fs.writeFileSync(join(config.base, 'elsewhere'), indexText([entry(9)]));
  fs.symlinkSync(join(config.base, 'elsewhere'), indexPath(config));
  t.deepEqual(reading(config).listed, truth(config));
  t.is(reading(config).sidecarsRead, 2);
  await seal(config, 'more\n');
  t.is(fs.readFileSync(join(config.base, 'elsewhere'), 'utf8'), indexText([entry(9)]));
  fs.rmSync(indexPath(config));
  fs.mkdirSync(indexPath(config));
  await seal(config, 'more still\n');
  t.deepEqual(reading(config).listed, truth(config));
});

test('the full listing (retention, export, status) is unchanged by the index', async (t) => {
  const config = await store(3);
  const archive = openArchive(config, UUID);
  if (!archive) throw new Error('no archive');
  try {
    const full = listArchive(archive);
    fs.writeFileSync(indexPath(config), indexText([entry(1, { key: full[0]?.key as string, lines: 99 })]));
    t.deepEqual(listArchive(archive), full);
  } finally {
    archive.close();
  }
});

test('a segment is listed only with a sidecar and a regular content file; odd entries hide nothing else', async (t) => {
  const config = await store(4);
  const dir = join(config.logRoot, UUID, 'archive');
  const keys = truth(config).map((e) => e.key);
  const [k1, k2, k3, k4] = keys as [string, string, string, string];
  // A symlink in place of one segment's content: that segment is not shown (nor followed).
  fs.renameSync(join(dir, `${k1}.seg`), join(config.base, 'moved.seg'));
  fs.symlinkSync(join(config.base, 'moved.seg'), join(dir, `${k1}.seg`));
  // Plain and gzip side by side (compression between its rename and its unlink): plain is read,
  // whatever the gzip entry is.
  fs.symlinkSync(join(config.base, 'nowhere'), join(dir, `${k2}.seg.gz`));
  // A sidecar without content, content without a sidecar, a folder as content, a temp file, a name
  // that is no key (a host with '..'), and other files: none of them is a segment.
  fs.copyFileSync(join(dir, `${k4}.json`), join(dir, '000000-00000009-hosta.json'));
  fs.writeFileSync(join(dir, '000000-00000010-hosta.seg'), 'orphan\n');
  fs.copyFileSync(join(dir, `${k4}.json`), join(dir, '000000-00000011-hosta.json'));
  fs.mkdirSync(join(dir, '000000-00000011-hosta.seg'));
  fs.writeFileSync(join(dir, `.tmp-${k3}.seg`), 'temp\n');
  fs.writeFileSync(join(dir, '000000-00000012-a..b.seg'), 'x\n');
  fs.copyFileSync(join(dir, `${k4}.json`), join(dir, '000000-00000012-a..b.json'));
  fs.writeFileSync(join(dir, 'notes.txt'), 'x\n');
  const shown = [k2, k3, k4];
  t.deepEqual(
    reading(config).listed.map((e) => e.key),
    shown,
  );
  t.deepEqual(
    truth(config).map((e) => e.key),
    shown,
  );
  const archive = openArchive(config, UUID);
  if (!archive) throw new Error('no archive');
  try {
    const files = listArchiveForReading(archive).segments.map((s) => [s.file, s.compressed]);
    t.deepEqual(files, [
      [`${k2}.seg`, false],
      [`${k3}.seg`, false],
      [`${k4}.seg`, false],
    ]);
  } finally {
    archive.close();
  }
});
