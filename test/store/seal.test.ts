import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { sealDevice } from '../../src/store/seal.js';
import { withStore } from '../../src/store/session.js';
import { openSegment } from '../../src/store/segment-content.js';
import { listSegments, setFailpoint } from '../../src/store/segments.js';
import { liveLogPath } from '../../src/store/layout.js';
import { tempConfig, UUID } from './helpers.js';
import { domainXml, hook, hookEnv, runCli } from '../lifecycle/helpers.js';

async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function allContent(config: ReturnType<typeof tempConfig>): Promise<string> {
  let out = '';
  for (const s of listSegments(config, UUID)) out += await readAll(openSegment(config, UUID, s.key));
  return out;
}

function sealOnce(config: ReturnType<typeof tempConfig>, path: string, truncateNext = false) {
  return withStore(config, UUID, (store) =>
    sealDevice(
      store,
      {
        host: 'hosta',
        device: 'serial0',
        path,
        generation: 0,
        reason: 'test',
        truncateNext,
        truncating: truncateNext,
      },
      new Date(),
    ),
  );
}

test('seal copies only new bytes and follows rotation by inode', async (t) => {
  const config = tempConfig();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  fs.mkdirSync(join(live, '..'), { recursive: true });
  fs.writeFileSync(live, 'one\ntwo\n');
  const r1 = await sealOnce(config, live);
  t.is(r1.segments.length, 1);
  fs.appendFileSync(live, 'three\n');
  fs.renameSync(live, live + '.0'); // virtlogd rotation
  fs.writeFileSync(live, 'four\n');
  const r2 = await sealOnce(config, live);
  t.deepEqual(
    r2.segments.map((s) => s.bytes),
    [6, 5],
  );
  const r3 = await sealOnce(config, live);
  t.is(r3.segments.length, 0);
  t.is(await allContent(config), 'one\ntwo\nthree\nfour\n');
});

test('bytes sealed in a segment whose records were all lost are not sealed again; new bytes are', async (t) => {
  const config = tempConfig();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  fs.mkdirSync(join(live, '..'), { recursive: true });
  fs.writeFileSync(live, 'one\ntwo\n');
  await sealOnce(config, live);
  fs.appendFileSync(live, 'three\n');
  await sealOnce(config, live);
  // Both records of the newest seal destroyed: its sidecar and sealed.json.
  const dir = join(config.logRoot, UUID);
  const newest = listSegments(config, UUID).at(-1)?.key as string;
  fs.writeFileSync(join(dir, 'archive', `${newest}.json`), '\0garbage');
  fs.writeFileSync(join(dir, 'sealed.json'), '{"truncated": ');
  // A start that seals nothing opens the store first: sealed.json is rebuilt and written then.
  await withStore(config, UUID, () => undefined);
  t.regex(
    fs.readFileSync(join(dir, 'sealed.json'), 'utf8'),
    new RegExp(`"unrecorded":\\[\\{"key":"${newest}"`),
  );
  fs.appendFileSync(live, 'four\n');
  const r = await sealOnce(config, live);
  t.deepEqual(r.known, [`${live} bytes 8-14 are already sealed (their records were lost): not sealed again`]);
  t.deepEqual(
    r.segments.map((s) => s.bytes),
    [5],
  );
  t.is(await allContent(config), 'one\ntwo\nthree\nfour\n');
  t.notRegex(fs.readFileSync(join(dir, 'sealed.json'), 'utf8'), /unrecorded/, 'a match is forgotten');
  // The same bytes elsewhere are not taken for them: a new file with other content is sealed whole.
  fs.writeFileSync(join(dir, 'archive', `${newest}.json`), '\0garbage');
  fs.writeFileSync(join(dir, 'sealed.json'), '{"truncated": ');
  fs.rmSync(live);
  fs.writeFileSync(live, 'five\nthree\n');
  const other = await sealOnce(config, live);
  t.is(other.known, undefined);
  t.is(await allContent(config), 'one\ntwo\nthree\nfour\nfive\nthree\n');
});

test('a truncating restart is detected and its new content sealed from 0', async (t) => {
  const config = tempConfig();
  const path = join(config.allowedRoots[0] as string, 'inst', 'console.log');
  fs.mkdirSync(join(path, '..'), { recursive: true });
  fs.writeFileSync(path, 'boot1 line\n');
  await sealOnce(config, path, true);
  await new Promise((r) => setTimeout(r, 20));
  fs.writeFileSync(path, 'boot2 longer line here\n'); // O_TRUNC in place, same inode
  const r = await sealOnce(config, path, true);
  t.is(r.segments.length, 1);
  t.is(await allContent(config), 'boot1 line\nboot2 longer line here\n');
  const segs = listSegments(config, UUID);
  t.is(segs[1]?.boots[0]?.offset, 0);
});

test('paths outside the roots and symlinks are refused', async (t) => {
  const config = tempConfig();
  const outside = join(config.base, 'elsewhere.log');
  fs.writeFileSync(outside, 'secret\n');
  const r = await sealOnce(config, outside);
  t.true(r.refused);
  const dir = join(config.allowedRoots[0] as string, 'inst');
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(outside, join(dir, 'console.log'));
  const r2 = await sealOnce(config, join(dir, 'console.log'));
  t.true(r2.refused);
  fs.symlinkSync(config.base, join(config.allowedRoots[0] as string, 'link'));
  const r3 = await sealOnce(config, join(config.allowedRoots[0] as string, 'link', 'elsewhere.log'));
  t.true(r3.refused);
  t.is(listSegments(config, UUID).length, 0);
});

for (const step of ['before-sidecar', 'before-segment-rename', 'after-segment-rename']) {
  test.serial(`a crash at ${step} loses nothing and duplicates nothing`, async (t) => {
    const config = tempConfig();
    const live = liveLogPath(config.liveDir, UUID, 'serial0');
    fs.mkdirSync(join(live, '..'), { recursive: true });
    fs.writeFileSync(live, 'a\n');
    await sealOnce(config, live);
    fs.appendFileSync(live, 'b\n');
    setFailpoint(step);
    await t.throwsAsync(sealOnce(config, live));
    setFailpoint(undefined);
    const visible = listSegments(config, UUID);
    t.true(visible.length === 1 || visible.length === 2);
    fs.appendFileSync(live, 'c\n');
    await sealOnce(config, live);
    t.is(await allContent(config), 'a\nb\nc\n');
    const names = fs.readdirSync(join(config.logRoot, UUID, 'archive'));
    t.false(names.some((n) => n.startsWith('.tmp-')));
  });
}

test.serial(
  'a crash after publishing the seal of a boot rewritten in place to the same length: not sealed twice',
  async (t) => {
    // A truncating file serial whose boots print the same number of bytes: same inode, same size,
    // only the head differs. The crashed seal's sidecar is replayed, and its watermark (same offset
    // as the one before it) must win.
    const config = tempConfig();
    const path = join(config.allowedRoots[0] as string, 'inst', 'console.log');
    fs.mkdirSync(join(path, '..'), { recursive: true });
    fs.writeFileSync(path, 'boot 1 printed this\n');
    await sealOnce(config, path, true);
    fs.writeFileSync(path, 'boot 2 printed this\n'); // truncated in place and rewritten, as QEMU does
    setFailpoint('after-segment-rename');
    await t.throwsAsync(sealOnce(config, path, true));
    setFailpoint(undefined);
    const again = await sealOnce(config, path, true);
    t.deepEqual(again.segments, [], 'the crashed seal is complete: nothing left to seal');
    t.is(await allContent(config), 'boot 1 printed this\nboot 2 printed this\n');
  },
);

test('a reused inode in an append-mode log is new content, not a new boot', async (t) => {
  const config = tempConfig();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  fs.mkdirSync(join(live, '..'), { recursive: true });
  fs.writeFileSync(live, 'x'.repeat(1000) + '\n');
  await sealOnce(config, live);
  // virtlogd deletes the file after rotations; a new file may get the same inode number.
  const ino = fs.statSync(live).ino;
  fs.unlinkSync(live);
  fs.writeFileSync(live, 'new file\n');
  const r = await sealOnce(config, live);
  t.is(r.segments[0]?.bytes, 9, `inode ${ino} -> ${fs.statSync(live).ino}`);
  t.deepEqual(listSegments(config, UUID)[1]?.boots, []);
});

test("shared store: another host's watermark on the same dev + inode numbers is not this file's", async (t) => {
  // Two hosts, one store (log_root on NFS), each its own live_dir (local disks). Their local disks
  // can give two different files the same device and inode numbers: simulated by host B's watermark
  // written for host A's file, as B would have recorded it for a file of its own.
  const a = tempConfig({ hostName: 'hosta' });
  const b = { ...a, hostName: 'hostb', liveDir: join(a.base, 'live-b') };
  const live = liveLogPath(a.liveDir, UUID, 'serial0');
  fs.mkdirSync(join(live, '..'), { recursive: true });
  fs.writeFileSync(live, 'boot output of host a\n');
  const st = fs.statSync(live);
  await withStore(b, UUID, (store) => {
    store.seal.files.push({
      host: 'hostb',
      device: 'serial0',
      path: liveLogPath(b.liveDir, UUID, 'serial0'),
      dev: st.dev,
      ino: st.ino,
      birthtimeMs: 0,
      head: '',
      headLen: 0,
      offset: st.size,
      local: true,
      updated: new Date().toISOString(),
    });
  });
  const r = await sealOnce(a, live);
  t.deepEqual(
    r.segments.map((s) => s.bytes),
    [st.size],
    "host a seals its file from 0: host b's watermark is for a file on b's disk",
  );
  await withStore(a, UUID, (store) => {
    t.is(store.seal.files.filter((f) => f.dev === st.dev && f.ino === st.ino).length, 2, 'both kept');
  });
  t.is(await allContent(a), 'boot output of host a\n');
  // Sealing again finds host a's own watermark: nothing new.
  t.is((await sealOnce(a, live)).segments.length, 0);
});

/** An append-mode log in live_dir, as the rewrite configures every serial, driven through the hook. */
function appendModeGuest() {
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  const seqLines = (boot: string, from: number, to: number) => {
    let s = '';
    for (let i = from; i < to; i++) s += `seq=${String(i).padStart(8, '0')} boot=${boot}\n`;
    return s;
  };
  return { config, env, live, xml, seqLines };
}

const bootIdIn = (live: string, n: number) =>
  [...fs.readFileSync(live, 'latin1').matchAll(/^--- virt-consolelog boot=(\S+) /gm)][n]?.[1];

// The defect (lab, store-rotation): a guest printing more than virtlogd keeps loses the file that
// held its boot marker; sealed at stop without a boundary, the previous boot's torn last line ran
// into this boot's first kept line in `show` ("seq=000seq=00000100 boot=...").
test('a boot whose marker virtlogd rotated away is sealed with its boundary where its output resumes', async (t) => {
  const { config, env, live, xml, seqLines } = appendModeGuest();
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, seqLines('aaaaaaaa', 0, 50) + 'seq=000'); // destroyed mid-line
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  const second = bootIdIn(live, 1) as string;
  fs.appendFileSync(live, seqLines('bbbbbbbb', 0, 100));
  fs.renameSync(live, live + '.0'); // virtlogd rolls over ...
  fs.appendFileSync(live, seqLines('bbbbbbbb', 100, 200));
  fs.unlinkSync(live + '.0'); // ... and drops the backup holding the marker (max_backups reached)
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  const segs = listSegments(config, UUID);
  t.is(segs.length, 2);
  t.deepEqual(
    segs[1]?.boots.map((b) => [b.offset, b.id, b.markerBytes]),
    [[0, second, 0]],
  );
  const shown = await runCli(env, ['show', 'guest1']);
  t.is(shown.code, 0, shown.err);
  const lines = shown.out.split('\n');
  const at = lines.indexOf('seq=00000100 boot=bbbbbbbb');
  t.true(at > 0, "the second boot's first kept line is a line of its own");
  t.regex(lines[at - 1] as string, new RegExp(`^-- Boot ${second} on hosta at `));
  t.is(lines[at - 2], 'seq=000', "the first boot's torn last line ends before the separator");
});

// A stop that sealed nothing (lock timeout, crash) leaves the previous boot in the older files:
// the boundary belongs where the marker is, in a newer file, not at the start of the oldest one.
test('a boot whose marker is in a newer file of the rotation set gets no boundary in an older one', async (t) => {
  const { config, env, live, xml, seqLines } = appendModeGuest();
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  const first = bootIdIn(live, 0) as string;
  fs.appendFileSync(live, seqLines('aaaaaaaa', 0, 50));
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  fs.appendFileSync(live, seqLines('aaaaaaaa', 50, 60)); // written after the seal, not sealed at its stop
  fs.renameSync(live, live + '.0');
  fs.appendFileSync(live, seqLines('aaaaaaaa', 60, 70));
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  const second = bootIdIn(live, 0) as string;
  fs.appendFileSync(live, seqLines('bbbbbbbb', 0, 10));
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  const segs = listSegments(config, UUID);
  t.deepEqual(
    segs.map((s) => s.boots.map((b) => [b.id, b.markerBytes > 0])),
    [[[first, true]], [], [[second, true]]],
  );
});
