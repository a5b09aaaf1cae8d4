import test from 'ava';
import { getEventListeners } from 'node:events';
import * as fs from 'node:fs';
import { Writable, PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { liveLogPath } from '../../src/store/layout.js';
import { join } from 'node:path';
import { readHistory } from '../../src/history/reader.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

async function cli(
  env: NodeJS.ProcessEnv,
  args: string[],
): Promise<{ code: number; out: Buffer; err: string }> {
  const out: Buffer[] = [];
  let err = '';
  const stdin = new PassThrough();
  stdin.end();
  const code = await main(args, {
    stdin,
    stdout: new Writable({
      write(c, _e, cb) {
        out.push(Buffer.from(c));
        cb();
      },
    }),
    stderr: new Writable({
      write(c, _e, cb) {
        err += String(c);
        cb();
      },
    }),
    env,
  });
  return { code, out: Buffer.concat(out), err };
}

const lines = (boot: number, from: number, to: number) => {
  let s = '';
  for (let i = from; i < to; i++)
    s += `boot${boot} seq=${String(i).padStart(6, '0')} ${'x'.repeat(i % 17)}\n`;
  return s;
};

/** Builds a history: 3 boots on an append-mode log, rotations, seals, a gzip segment, an unsealed tail. */
async function build(compressMinBytes = 1000) {
  const { config, env } = hookEnv({ compressMinBytes });
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  let raw = '';
  const write = (s: string) => {
    fs.appendFileSync(live, s);
    raw += s;
  };
  // boot 1: output, one rotation, stop + release (seal, compress)
  await hook(env, ['g', 'prepare', 'begin', '-'], xml);
  write(lines(1, 0, 200));
  fs.renameSync(live, live + '.0');
  write(lines(1, 200, 260));
  await hook(env, ['g', 'release', 'end', 'shutdown'], xml);
  // boot 2: output with a partial last line, rotation twice, not sealed at stop (crash)
  await hook(env, ['g', 'prepare', 'begin', '-'], xml);
  write(lines(2, 0, 50));
  fs.renameSync(live + '.0', live + '.1');
  fs.renameSync(live, live + '.0');
  write(lines(2, 50, 60) + 'boot2 partial');
  // boot 3: restarted without stop hooks, output stays live
  await hook(env, ['g', 'prepare', 'begin', '-'], xml);
  raw += '\n'; // the marker ends the guest's unfinished line
  write(lines(3, 0, 30));
  return { config, env, raw, live };
}

test('show prints everything in order with boot separators', async (t) => {
  const { env, raw } = await build();
  const r = await cli(env, ['show', 'guest1']);
  t.is(r.code, 0, r.err);
  const text = r.out.toString();
  const seps = text.split('\n').filter((l) => l.startsWith('-- Boot '));
  t.is(seps.length, 3);
  t.is(
    text
      .split('\n')
      .filter((l) => !l.startsWith('-- Boot '))
      .join('\n'),
    raw,
  );
  const byUuid = await cli(env, ['show', UUID]);
  t.deepEqual(byUuid.out, r.out);
});

test('-c N is exactly the last N raw bytes, for every N', async (t) => {
  const { env, raw } = await build();
  const buf = Buffer.from(raw);
  for (const n of [0, 1, 7, 100, 1000, 5000, buf.length - 1, buf.length, buf.length + 100]) {
    const r = await cli(env, ['show', '-c', String(n), 'guest1']);
    t.is(r.code, 0, `-c ${n}: ${r.err}`);
    t.deepEqual(r.out, buf.subarray(Math.max(0, buf.length - n)), `-c ${n}`);
  }
});

test('-n N matches tail -n on the raw output', async (t) => {
  const { env, raw } = await build();
  const all = raw.split('\n');
  all.pop(); // raw ends with a newline
  for (const n of [1, 5, 30, 31, 100, 400]) {
    const r = await cli(env, ['show', '-n', String(n), 'guest1']);
    const text = r.out
      .toString()
      .split('\n')
      .filter((l) => !l.startsWith('-- Boot '))
      .join('\n');
    t.is(text, all.slice(Math.max(0, all.length - n)).join('\n') + '\n', `-n ${n}`);
  }
});

test('-b selects boots as journalctl does, --list-boots lists them', async (t) => {
  const { env, raw } = await build();
  const boots = raw.split(/(?=boot1 seq=000000)|(?=boot2 seq=000000)|(?=boot3 seq=000000)/) as [
    string,
    string,
    string,
  ];
  const body = (b: Buffer) =>
    b
      .toString()
      .split('\n')
      .filter((l) => !l.startsWith('-- Boot '))
      .join('\n');
  t.is(body((await cli(env, ['show', '-b', '1', 'guest1'])).out), boots[0]);
  t.is(body((await cli(env, ['show', '-b', '-1', 'guest1'])).out), boots[1]);
  t.is(body((await cli(env, ['show', '-b', 'guest1'])).out), boots[2]);
  t.is(body((await cli(env, ['show', '-b', '0', 'guest1'])).out), boots[2]);
  t.is((await cli(env, ['show', '-b', '-5', 'guest1'])).code, 3);
  const list = await cli(env, ['show', '--list-boots', '--json', 'guest1']);
  const entries = list.out
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    entries.map((e) => e.offset),
    [-2, -1, 0],
  );
  t.deepEqual(
    entries.map((e) => e.bytes),
    boots.map((b) => Buffer.byteLength(b)),
  );
});

test('--since/--until select boots by time; --json gives lines', async (t) => {
  const { env } = await build();
  const future = await cli(env, ['show', '--since', new Date(Date.now() + 3600e3).toISOString(), 'guest1']);
  t.is(future.out.length, 0);
  const past = await cli(env, ['show', '--until', '2000-01-01T00:00:00Z', 'guest1']);
  t.is(past.out.length, 0);
  const recent = await cli(env, ['show', '--since', '-1h', '-n', '2', '--json', 'guest1']);
  const objs = recent.out
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    objs.map((o) => o.type),
    ['boot', 'line', 'line'],
  );
  t.is(objs[2].text, `boot3 seq=000029 ${'x'.repeat(29 % 17)}`);
});

test('the library reader gives the same bytes as show -c', async (t) => {
  const { config, raw } = await build(-1);
  let got = '';
  for await (const e of readHistory(config, 'guest1', { bytes: 1e9 }))
    if (e.type === 'data') got += e.data.toString();
  t.is(got, raw);
});

test('unknown domains and devices are reported with exit code 3', async (t) => {
  const { env } = await build();
  t.is((await cli(env, ['show', 'nope'])).code, 3);
  t.is((await cli(env, ['show', '--device', 'serial3', 'guest1'])).code, 3);
  t.is((await cli(env, ['show', '-n', 'x', 'guest1'])).code, 2);
});

test('follow prints new output through a rotation and a new boot', async (t) => {
  const { config, live } = await build();
  const controller = new AbortController();
  let got = '';
  const boots: string[] = [];
  const done = (async () => {
    for await (const e of readHistory(config, 'guest1', {
      lines: 1,
      follow: true,
      followPollMs: 20,
      signal: controller.signal,
    })) {
      if (e.type === 'data') got += e.data.toString();
      else boots.push(e.boot.id);
    }
  })();
  const until = async (what: string) => {
    for (let i = 0; i < 250 && !got.endsWith(what); i++) await new Promise((r) => setTimeout(r, 20));
  };
  await until('boot3 seq=000029 ' + 'x'.repeat(29 % 17) + '\n'); // -n 1 printed: the snapshot is taken
  got = '';
  fs.appendFileSync(live, 'after follow 1\n');
  await until('after follow 1\n');
  fs.renameSync(live + '.1', live + '.2'); // virtlogd's rotation: .1 -> .2, .0 -> .1, log -> .0
  fs.renameSync(live + '.0', live + '.1');
  fs.renameSync(live, live + '.0');
  fs.appendFileSync(live + '.0', 'late write to the rotated file\n');
  fs.writeFileSync(live, 'new file after rotation\n');
  await until('new file after rotation\n');
  fs.appendFileSync(
    live,
    '--- virt-consolelog boot=feedfacefeedface host=hosta at=2026-01-01T00:00:00.000Z ---\nnext boot\n',
  );
  await until('next boot\n');
  // Many polls ran by now: each one's abort listener went with it (no MaxListenersExceededWarning).
  t.true(getEventListeners(controller.signal, 'abort').length <= 1, 'no abort listener left per poll');
  controller.abort();
  await done;
  t.is(got, 'after follow 1\nlate write to the rotated file\nnew file after rotation\nnext boot\n');
  t.true(boots.includes('feedfacefeedface'));
});

test('follow on a truncating file serial: a restart rewrites the file, the new boot is printed', async (t) => {
  const { config, env } = hookEnv();
  const path = join(config.allowedRoots[0] as string, 'inst', 'console.log');
  const xml = domainXml(`<serial type='file'><source path='${path}'/><target port='0'/></serial>`);
  fs.mkdirSync(join(path, '..'), { recursive: true });
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.writeFileSync(path, 'boot1 first\n');
  const controller = new AbortController();
  let got = '';
  const boots: string[] = [];
  const done = (async () => {
    for await (const e of readHistory(config, 'guest1', {
      lines: 1,
      follow: true,
      followPollMs: 20,
      signal: controller.signal,
    })) {
      if (e.type === 'data') got += e.data.toString();
      else boots.push(e.boot.id);
    }
  })();
  const until = async (what: string) => {
    for (let i = 0; i < 250 && !got.endsWith(what); i++) await new Promise((r) => setTimeout(r, 20));
  };
  await until('boot1 first\n');
  fs.appendFileSync(path, 'boot1 more\n');
  await until('boot1 more\n');
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml); // seals boot 1, records boot 2
  await new Promise((r) => setTimeout(r, 60));
  fs.writeFileSync(path, 'boot2 first line, longer than before\n'); // QEMU's O_TRUNC
  await until('boot2 first line, longer than before\n');
  controller.abort();
  await done;
  t.is(got, 'boot1 first\nboot1 more\nboot2 first line, longer than before\n');
  t.is(boots.length, 2, 'the boot being followed, then the new one');
});

test('a guest printing the marker format does not forge a boot; -c keeps its line', async (t) => {
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  const fake = '--- virt-consolelog boot=0123456789abcdef host=hosta at=2026-01-01T00:00:00.000Z ---\n';
  fs.appendFileSync(live, 'before\n' + fake + 'after\n');
  const check = async () => {
    const shown = (await cli(env, ['show', 'guest1'])).out.toString();
    t.is(shown.split('\n').filter((l) => l.startsWith('-- Boot ')).length, 1);
    t.is((await cli(env, ['show', '-c', '1000', 'guest1'])).out.toString(), 'before\n' + fake + 'after\n');
  };
  await check();
  await hook(env, ['guest1', 'release', 'end', '-'], xml); // sealed: the same from the archive
  await check();
});

test("shared store: another host's live_dir path is on that host, never read here as its tail", async (t) => {
  // log_root shared by hosta (this host) and hostb: domain.json names both, and their devices log to
  // the same live_dir path (host-independent). The file at that path here is hosta's own: it must be
  // read as hosta's tail (after hosta's sealed generation-1 boot), not as hostb's (generation 0).
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  const state = join(config.logRoot, UUID, 'domain.json');
  const edit = (f: (d: { hosts: Record<string, { generation: number }> }) => void) => {
    const d = JSON.parse(fs.readFileSync(state, 'utf8'));
    f(d);
    fs.writeFileSync(state, JSON.stringify(d));
  };
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, lines(1, 0, 30));
  edit((d) => void (d.hosts.hosta!.generation = 1));
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, lines(2, 0, 30));
  edit((d) => void (d.hosts = { hostb: { ...d.hosts.hosta!, generation: 0 }, hosta: d.hosts.hosta! }));
  const r = await cli(env, ['show', '-c', '100000', UUID]);
  t.is(r.code, 0, r.err);
  t.is(r.out.toString(), lines(1, 0, 30) + lines(2, 0, 30));
});

// The running boot's marker went with a backup virtlogd dropped: the boot still begins where its
// kept output resumes (the sealed twin of this case: test/store/seal.test.ts).
test('a running boot whose marker virtlogd rotated away starts where its output resumes', async (t) => {
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['g', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, lines(1, 0, 20) + 'boot1 torn');
  await hook(env, ['g', 'release', 'end', 'destroyed'], xml);
  await hook(env, ['g', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, lines(2, 0, 20));
  fs.renameSync(live, live + '.0');
  fs.appendFileSync(live, lines(2, 20, 40));
  fs.unlinkSync(live + '.0');
  const r = await cli(env, ['show', 'guest1']);
  t.is(r.code, 0, r.err);
  const text = r.out.toString().split('\n');
  const at = text.indexOf(lines(2, 20, 21).slice(0, -1));
  t.regex(text[at - 1] ?? '', /^-- Boot [0-9a-f]{16} on hosta at /);
  t.is(text[at - 2], 'boot1 torn');
});
