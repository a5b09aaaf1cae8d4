import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pointLine, timesFileName } from '../../src/capture/times.js';
import { withHost } from '../../src/store/domain-state.js';
import { sealDevice } from '../../src/store/seal.js';
import { withStore } from '../../src/store/session.js';
import { listSegments } from '../../src/store/segments.js';
import { domainDir } from '../../src/store/layout.js';
import { cli, lines, makeWorld, seal, write } from './helpers.js';

const U = '0f8fad5b-d9cb-469f-a165-70867728950e';
const OTHER = '6ba7b810-9dad-41d1-80b4-00c04fd430c8';

const world = makeWorld();
test.after.always(() => world.cleanup());
const a = world.host('lab-a');

test.before(async () => {
  await write(a, U, lines('boot1', 0, 50));
  await seal(a, U, 'restart');
  await write(a, U, lines('boot2', 0, 20));
  await write(a, OTHER, 'secret of another domain\n');
  await seal(a, OTHER, 'stop');
  await write(a, OTHER, 'more secrets\n');
  await seal(a, OTHER, 'stop');
});

const exportCli = (...req: string[]) => cli(['--config', a.configFile, 'serve-export', ...req]);

test.serial(
  "list: sealed segments with sidecars, and this host's live files with their watermarks",
  async (t) => {
    const r = await exportCli('list', U);
    t.is(r.code, 0, r.stderr);
    const l = JSON.parse(r.stdout.toString('utf8'));
    t.is(l.protocol, 1);
    t.is(l.uuid, U);
    t.is(l.exporter, 'lab-a');
    t.is(l.segments.length, 1);
    t.is(l.segments[0].bytes, lines('boot1', 0, 50).length);
    t.is(l.segments[0].sidecar.origin.host, 'lab-a');
    t.deepEqual(
      l.live.map((f: { device: string; file: string; bytes: number; sealed: number }) => [
        f.device,
        f.file,
        f.bytes,
        f.sealed,
      ]),
      [
        [
          'serial0',
          `${U}.serial0.console`,
          (lines('boot1', 0, 50) + lines('boot2', 0, 20)).length,
          lines('boot1', 0, 50).length,
        ],
      ],
    );
    // Nothing of the other domain leaks into this listing.
    t.false(r.stdout.toString('utf8').includes(OTHER));
  },
);

test.serial('the same request through SSH_ORIGINAL_COMMAND (forced command)', async (t) => {
  const r = await cli(['--config', a.configFile, 'serve-export'], { SSH_ORIGINAL_COMMAND: `list ${U}` });
  t.is(r.code, 0, r.stderr);
  t.is(JSON.parse(r.stdout.toString('utf8')).segments.length, 1);
});

test.serial("get: a segment's plain bytes from any offset", async (t) => {
  const key = listSegments(a.config, U)[0]!.key;
  const full = lines('boot1', 0, 50);
  for (const offset of [0, 1, 100, full.length - 1, full.length]) {
    const r = await exportCli('get', U, key, String(offset));
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.toString('utf8'), full.slice(offset), `offset ${offset}`);
  }
  const past = await exportCli('get', U, key, String(full.length + 1));
  t.is(past.code, 3);
});

test.serial("live: the store's live file from an offset", async (t) => {
  const all = lines('boot1', 0, 50) + lines('boot2', 0, 20);
  const r = await exportCli('live', U, 'lab-a', 'serial0', '10');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.toString('utf8'), all.slice(10));
  t.is((await exportCli('live', U, 'lab-a', 'serial0', String(all.length + 5))).stdout.length, 0);
  t.is((await exportCli('live', U, 'lab-b', 'serial0', '0')).code, 3);
});

test.serial(
  "times: one listed segment's points; another domain's or an unknown key is not found",
  async (t) => {
    const seg = listSegments(a.config, U)[0]!;
    const file = { dev: seg.origin.dev, ino: seg.origin.ino, birth: seg.watermark?.birthtimeMs ?? 0 };
    const times = join(a.config.logRoot, U, timesFileName('lab-a'));
    // Points inside the segment, and the first one past its end (moved to its end).
    writeFileSync(
      times,
      pointLine(file, { offset: 10, time: 1000 }) +
        pointLine(file, { offset: seg.plainBytes + 50, time: 2000 }) +
        pointLine(file, { offset: seg.plainBytes + 90, time: 3000 }),
    );
    t.teardown(() => rmSync(times));
    const r = await exportCli('times', U, seg.key);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(JSON.parse(r.stdout.toString('utf8')), {
      protocol: 1,
      uuid: U,
      key: seg.key,
      sha256: seg.sha256,
      points: [
        [10, 1000],
        [seg.plainBytes, 2000],
      ],
    });
    t.is((await exportCli('times', U, listSegments(a.config, OTHER)[1]!.key)).code, 3);
    t.is((await exportCli('times', U, '000009-00000009-lab-a')).code, 3);
    t.is((await exportCli('times', U)).code, 2);
    t.is((await exportCli('times', U, '../../x')).code, 2);
  },
);

test.serial("other domains' data is never served through a domain's request", async (t) => {
  const otherKey = listSegments(a.config, OTHER)[1]!.key;
  t.false(listSegments(a.config, U).some((s) => s.key === otherKey));
  const viaWrongDomain = await exportCli('get', U, otherKey, '0');
  t.is(viaWrongDomain.code, 3);
  t.false(viaWrongDomain.stdout.toString('utf8').includes('secret'));
  const unknown = await exportCli('list', '11111111-2222-4333-8444-555555555555');
  t.is(unknown.code, 0);
  t.deepEqual(JSON.parse(unknown.stdout.toString('utf8')).segments, []);
});

test.serial(
  'unknown arguments, path tricks and shell syntax are refused with exit 2 and a message',
  async (t) => {
    const key = listSegments(a.config, U)[0]!.key;
    const cases: Array<[string[], NodeJS.ProcessEnv]> = [
      [['delete', U], {}],
      [['list', U, '--verbose'], {}],
      [['get', U, '../../../../etc/passwd', '0'], {}],
      [['live', U, '..', 'serial0', '0'], {}],
      [['live', U, 'lab-a', '../../../etc/shadow', '0'], {}],
      [['list', `../${U}`], {}],
      [[], { SSH_ORIGINAL_COMMAND: `list ${U}; cat /etc/shadow` }],
      [[], { SSH_ORIGINAL_COMMAND: `get ${U} ${key} 0 && id` }],
      [[], { SSH_ORIGINAL_COMMAND: '' }],
      [[], {}],
    ];
    for (const [args, env] of cases) {
      const r = await cli(['--config', a.configFile, 'serve-export', ...args], env);
      t.is(r.code, 2, JSON.stringify([args, env]));
      t.regex(r.stderr, /refused|usage|no request/, JSON.stringify(args));
      t.is(r.stdout.length, 0);
    }
    // A key-shaped name of a file next to the segment (its sidecar) names no segment: nothing served.
    const sidecar = await cli(['--config', a.configFile, 'serve-export', 'get', U, `${key}.json`, '0']);
    t.is(sidecar.code, 3);
    t.is(sidecar.stdout.length, 0);
  },
);

test.serial('symlinks inside the store are refused, not followed', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const h = w.host('lab-a');
  const secret = join(w.dir, 'secret.txt');
  writeFileSync(secret, 'root:x:0:0\n');
  // live file replaced by a symlink to a file outside the store
  const live = await write(h, U, 'x\n');
  renameSync(live, `${live}.moved`);
  symlinkSync(secret, live);
  const r1 = await cli(['--config', h.configFile, 'serve-export', 'live', U, 'lab-a', 'serial0', '0']);
  t.is(r1.code, 2);
  t.false(r1.stdout.toString().includes('root:'));
  // live_dir's file a symlink to another domain's live file: refused as well
  const otherLive = await write(h, OTHER, 'other domain\n');
  rmSync(live);
  symlinkSync(otherLive, live);
  const r2 = await cli(['--config', h.configFile, 'serve-export', 'live', U, 'lab-a', 'serial0', '0']);
  t.is(r2.code, 2);
  t.false(r2.stdout.toString().includes('other domain'));
  // another host's live files are never served: they are on that host's own disk
  const r2b = await cli(['--config', h.configFile, 'serve-export', 'live', U, 'lab-b', 'serial0', '0']);
  t.is(r2b.code, 3);
  // the whole domain folder a symlink to another domain's folder: its listing stays empty
  const dom = domainDir(h.config.logRoot, U);
  renameSync(dom, `${dom}.moved`);
  symlinkSync(domainDir(h.config.logRoot, OTHER), dom);
  const r3 = await cli(['--config', h.configFile, 'serve-export', 'list', U]);
  t.not(r3.code, 0);
  t.false(r3.stdout.toString().includes('other domain'));
});

test.serial('a live file that is not a regular file (FIFO) is refused without blocking', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const h = w.host('lab-a');
  const live = await write(h, U, 'x\n');
  renameSync(live, `${live}.moved`);
  execFileSync('mkfifo', [live]);
  const r = await cli(['--config', h.configFile, 'serve-export', 'live', U, 'lab-a', 'serial0', '0']);
  t.is(r.code, 2);
  t.regex(r.stderr, /not a regular file/);
});

test.serial('the export never writes: the store is byte-identical after every request', async (t) => {
  const before = execFileSync('find', [a.config.logRoot, '-printf', '%p %s %T@\\n']).toString();
  await exportCli('list', U);
  await exportCli('get', U, listSegments(a.config, U)[0]!.key, '0');
  await exportCli('live', U, 'lab-a', 'serial0', '0');
  await exportCli('times', U, listSegments(a.config, U)[0]!.key);
  const after = execFileSync('find', [a.config.logRoot, '-printf', '%p %s %T@\\n']).toString();
  t.is(after, before);
  mkdirSync(join(world.dir, 'unused'), { recursive: true });
  t.truthy(readFileSync(a.configFile, 'utf8'));
});

// Issue 5: a restarted `type='file'` serial is truncated in place (same inode, O_TRUNC) after its
// watermark was written. Its whole content is the new boot, unsealed; the listing reported the old
// watermark as sealed (min(offset, size)), so a fetch completed without the source's last boot.
for (const [label, boot2Lines] of [
  ['longer than the sealed boot', 80],
  ['shorter than the sealed boot', 10],
] as const) {
  test.serial(
    `a file serial truncated in place since its watermark, ${label}: nothing of it is sealed`,
    async (t) => {
      const w = makeWorld();
      t.teardown(() => w.cleanup());
      const h = w.host('lab-a');
      const path = join(w.dir, 'shared', 'inst', 'console.log');
      mkdirSync(join(path, '..'), { recursive: true });
      const boot1 = lines('boot1', 0, 40);
      writeFileSync(path, boot1);
      await withStore(h.config, U, (s) => {
        s.domain = withHost(s.domain, h.name, {
          generation: 0,
          devices: { serial0: { path, kind: 'file', truncating: true } },
        });
        // As prepare does before a truncating start: seal, and note the ctime the start will change.
        sealDevice(
          s,
          {
            host: h.name,
            device: 'serial0',
            path,
            generation: 0,
            reason: 'restart',
            truncateNext: true,
            truncating: true,
          },
          new Date(),
        );
      });
      const ino = statSync(path).ino;
      await new Promise((r) => setTimeout(r, 20)); // a later ctime
      const boot2 = lines('boot2', 0, boot2Lines);
      writeFileSync(path, boot2); // QEMU's O_TRUNC: same inode, rewritten from 0
      t.is(statSync(path).ino, ino);

      const r = await cli(['--config', h.configFile, 'serve-export', 'list', U]);
      t.is(r.code, 0, r.stderr);
      const live = (JSON.parse(r.stdout.toString('utf8')) as { live: { bytes: number; sealed: number }[] })
        .live;
      t.deepEqual(
        live.map((f) => [f.bytes, f.sealed]),
        [[boot2.length, 0]],
      );
      // What the sealer seals next is exactly what the listing called unsealed.
      const before = listSegments(h.config, U).length;
      await seal(h, U, 'stop');
      const added = listSegments(h.config, U).slice(before);
      t.deepEqual(
        added.map((s) => [s.origin.start, s.plainBytes]),
        [[live[0]!.sealed, live[0]!.bytes - live[0]!.sealed]],
      );
    },
  );
}
