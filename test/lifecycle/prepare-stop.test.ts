import test from 'ava';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { openSegment } from '../../src/store/segment-content.js';
import { listSegments } from '../../src/store/segments.js';
import { liveLogPath } from '../../src/store/layout.js';
import { readJournal } from '../../src/journal/journal.js';
import { domainXml, hook, hookEnv, runCli, UUID } from './helpers.js';

async function text(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

test('file serial without append: each restart seals the previous boot first', async (t) => {
  const { config, env } = hookEnv();
  const path = join(config.allowedRoots[0] as string, 'inst', 'console.log');
  const xml = domainXml(`<serial type='file'><source path='${path}'/><target port='0'/></serial>`);
  for (let boot = 1; boot <= 3; boot++) {
    const r = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
    t.is(r.code, 0);
    t.is(r.stdout, '');
    fs.mkdirSync(join(path, '..'), { recursive: true });
    fs.writeFileSync(path, `boot ${boot} output\n`); // QEMU opens with O_TRUNC
    await new Promise((res) => setTimeout(res, 15));
  }
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  const segs = listSegments(config, UUID);
  let all = '';
  for (const s of segs) all += await text(openSegment(config, UUID, s.key));
  t.is(all, 'boot 1 output\nboot 2 output\nboot 3 output\n');
  t.deepEqual(
    segs.map((s) => s.boots.length),
    [1, 1, 1],
  );
  const state = JSON.parse(fs.readFileSync(join(config.logRoot, UUID, 'domain.json'), 'utf8'));
  t.deepEqual(
    state.names.map((n: { name: string }) => n.name),
    ['guest1'],
  );
  const journal = readJournal(config, { uuid: UUID });
  t.is(journal.length, 4);
  t.is(journal[0]?.extra, 'destroyed');
});

test('append-mode log: a boot marker per start, sealed at stop', async (t) => {
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, 'hello\npartial');
  const sealed = join(config.logRoot, UUID, 'sealed.json');
  const before = fs.statSync(sealed).ino;
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  // A start that only marks a boot seals nothing: sealed.json is not written again (an atomic write is a new inode).
  t.is(fs.statSync(sealed).ino, before);
  const content = fs.readFileSync(live, 'utf8');
  const lines = content.split('\n');
  t.regex(lines[0] as string, /^--- virt-consolelog boot=[0-9a-f]{16} host=hosta at=\S+ ---$/);
  t.is(lines[1], 'hello');
  t.is(lines[2], 'partial');
  t.regex(lines[3] as string, /^--- virt-consolelog boot=/);
  await hook(env, ['guest1', 'release', 'end', '-'], xml);
  const segs = listSegments(config, UUID);
  t.is(segs.length, 1);
  t.is(segs[0]?.boots.length, 2);
  t.is(segs[0]?.reason, 'stop'); // no reason from libvirt < 10.5: inferred
});

test('a source outside the allowed roots is left alone and reported', async (t) => {
  const { config, env } = hookEnv();
  const outside = join(config.base, 'etc-shadow');
  fs.writeFileSync(outside, 'root:x:0:0\n');
  const xml = domainXml(`<serial type='file'><source path='${outside}'/><target port='0'/></serial>`);
  const r = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(r.code, 0);
  t.regex(r.stderr, /outside the allowed roots/);
  t.is(listSegments(config, UUID).length, 0);
  t.is(fs.readFileSync(outside, 'utf8'), 'root:x:0:0\n');
});

test('unparsable XML: the known sources are sealed anyway', async (t) => {
  const { config, env } = hookEnv();
  const path = join(config.allowedRoots[0] as string, 'inst', 'console.log');
  const xml = domainXml(`<serial type='file'><source path='${path}'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.mkdirSync(join(path, '..'), { recursive: true });
  fs.writeFileSync(path, 'precious\n');
  const r = await hook(
    env,
    ['guest1', 'prepare', 'begin', '-'],
    `<domain><uuid>${UUID}</uuid><devices><serial`,
  );
  t.is(r.code, 0);
  t.is(listSegments(config, UUID).length, 1);
});

test('a restore continues the saved boot: its prepare writes no marker, the next start does', async (t) => {
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, 'seq=1 before save, cut mid-');
  const restored = await hook(env, ['guest1', 'restore', 'begin', '-'], xml);
  t.is(restored.code, 0);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, 'line after restore\n');
  t.is(
    fs
      .readFileSync(live, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('--- virt-consolelog')).length,
    1,
  );
  t.true(fs.readFileSync(live, 'utf8').includes('cut mid-line after restore\n'));
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(
    fs
      .readFileSync(live, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('--- virt-consolelog')).length,
    2,
  );
});

test('an arrival creates the live log and its folder (virtlogd cannot) but writes no marker', async (t) => {
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  t.false(fs.existsSync(join(live, '..')));
  await hook(env, ['guest1', 'restore', 'begin', '-'], xml);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(fs.readFileSync(live, 'utf8'), '');
  t.is(fs.statSync(live).mode & 0o777, config.logFileMode);
});

test('unreadable state files are reported (status shows them), not only noted', async (t) => {
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, 'boot 1\n');
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  fs.writeFileSync(join(config.logRoot, UUID, 'sealed.json'), '{"garbage');
  fs.writeFileSync(join(config.logRoot, UUID, 'domain.json'), '[]');
  const r = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(r.code, 0);
  t.regex(r.stderr, /sealed\.json was unreadable: rebuilt from 1 sidecars/);
  t.regex(r.stderr, /domain\.json was unreadable: started afresh/);
  t.deepEqual(readJournal(config, { uuid: UUID })[0]?.problems.filter((p) => /unreadable/.test(p)).length, 2);
  // A routine crash leftover is only a note.
  fs.writeFileSync(join(config.logRoot, UUID, 'archive', '.tmp-left-behind'), 'x');
  const again = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(again.stderr, '');
  t.true(readJournal(config, { uuid: UUID })[0]?.notes.some((n) => /crash leftover/.test(n)));
});

test('a store that cannot be used (held lock, not a folder) still gets the new boot its own line', async (t) => {
  const { config, env } = hookEnv();
  fs.appendFileSync(env.VIRT_CONSOLELOG_CONFIG, 'lock_wait_ms = 300\n');
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, 'boot 1\nboot 1 cut short by destr');
  // A live holder (a sleeping child), recorded as a holder records itself.
  const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => void holder.kill('SIGKILL'));
  const dir = join(config.logRoot, UUID);
  fs.mkdirSync(join(dir, '.lock'));
  const owner = {
    host: config.hostName,
    pid: holder.pid,
    at: Date.now(),
    lock: fs.statSync(join(dir, '.lock')).ino,
  };
  fs.writeFileSync(join(dir, '.lock.owner'), JSON.stringify(owner));
  const held = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(held.code, 0);
  t.regex(held.stderr, /still held after \d+ ms .*nothing sealed, start goes on/);
  t.regex(held.stderr, /serial0: boot marker written, recorded at the next event \(store unavailable now\)/);
  const marker =
    /boot 1 cut short by destr\n--- virt-consolelog boot=([0-9a-f]{16}) host=hosta at=\S+ ---\n$/.exec(
      fs.readFileSync(live, 'utf8'),
    )?.[1] as string;
  t.truthy(marker, 'the marker ends the torn line');
  const waiting = join(config.stateDir, 'domains', UUID, 'boot-markers.waiting');
  t.is(fs.readFileSync(waiting, 'utf8'), `${marker}\n`, 'its id waits in state_dir');
  // Until a hook holds the store again, show prints the marker as a plain line.
  fs.appendFileSync(live, 'boot 2\n');
  t.regex((await runCli(env, ['show', 'guest1'])).out, /^--- virt-consolelog boot=/m);
  // The holder goes; the stop records the id, so the boot gets its separator.
  holder.kill('SIGKILL');
  fs.rmSync(join(dir, '.lock'), { recursive: true });
  fs.rmSync(join(dir, '.lock.owner'));
  const stop = await hook(env, ['guest1', 'release', 'end', '-'], xml);
  t.is(stop.code, 0, stop.stderr);
  t.false(fs.existsSync(waiting), 'the waiting list is gone once domain.json has the id');
  const shown = (await runCli(env, ['show', 'guest1'])).out;
  t.notRegex(shown, /--- virt-consolelog boot=/);
  t.regex(shown, new RegExp(`^-- Boot ${marker} on hosta at \\S+ --\nboot 2$`, 'm'));
  // The store's folder replaced by a file: the hook fails open, the marker is still written once.
  fs.rmSync(dir, { recursive: true });
  fs.writeFileSync(dir, 'not a folder');
  fs.appendFileSync(live, 'boot 3 cut short');
  const broken = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(broken.code, 0);
  t.regex(broken.stderr, /failed open/);
  const text = fs.readFileSync(live, 'utf8');
  t.regex(text, /\nboot 3 cut short\n--- virt-consolelog boot=[0-9a-f]{16} host=hosta at=\S+ ---\n$/);
  t.is(text.match(/--- virt-consolelog boot=/g)?.length, 3, 'one marker per start');
});
