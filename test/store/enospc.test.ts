// A full disk under the archive (a small tmpfs, as root): the oldest segments make room for the
// content a start is about to truncate.
import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { listSegments } from '../../src/store/segments.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

test('disk full: oldest segments are pruned so the truncated boot is sealed', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('needs root to mount a tmpfs');
  const { config, env } = hookEnv({ compressMinBytes: -1, domainCapBytes: 0 });
  const path = join(config.allowedRoots[0] as string, 'inst', 'console.log');
  const xml = domainXml(`<serial type='file'><source path='${path}'/><target port='0'/></serial>`);
  fs.mkdirSync(join(path, '..'), { recursive: true });
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  const archive = join(config.logRoot, UUID, 'archive');
  const mount = await execa('mount', ['-t', 'tmpfs', '-o', 'size=300k', 'tmpfs', archive], { reject: false });
  if (mount.exitCode !== 0) return t.pass(`cannot mount a tmpfs here: ${mount.stderr}`);
  t.teardown(() => execa('umount', ['-l', archive], { reject: false }).then(() => undefined));
  let reports = '';
  for (let boot = 0; boot < 6; boot++) {
    fs.writeFileSync(path, `boot ${boot} `.padEnd(100 * 1024, 'x') + '\n');
    await new Promise((r) => setTimeout(r, 15));
    const r = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
    t.is(r.code, 0);
    reports += r.stderr;
  }
  t.regex(reports, /disk full: pruned the oldest segment/);
  const segs = listSegments(config, UUID);
  t.true(segs.length >= 1 && segs.length <= 2);
  t.is(segs.at(-1)?.plainBytes, 100 * 1024 + 1, 'the boot just truncated is kept');
  t.regex(fs.readFileSync(join(archive, `${segs.at(-1)?.key}.seg`), 'utf8'), /^boot 5 /);
});

test('an archive too full to seal in: the seal is reported, the other log still gets its boot marker', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('needs root to mount a tmpfs');
  const { config, env } = hookEnv({ compressMinBytes: -1, domainCapBytes: 0 });
  const dir = join(config.allowedRoots[0] as string, 'inst');
  const file = join(dir, 'serial0.log');
  const log = join(dir, 'serial1.log');
  fs.mkdirSync(dir, { recursive: true });
  // serial0 is truncated at every start (sealed first); serial1 is an append-mode log (marked).
  const xml = domainXml(
    `<serial type='file'><source path='${file}'/><target port='0'/></serial>` +
      `<serial type='pty'><log file='${log}' append='on'/><target port='1'/></serial>`,
  );
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.writeFileSync(file, 'boot 1 '.padEnd(64 * 1024, 'x') + '\n');
  fs.appendFileSync(log, 'boot 1 on serial1\nboot 1 cut short by destr');
  const archive = join(config.logRoot, UUID, 'archive');
  const mount = await execa('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', archive], { reject: false });
  if (mount.exitCode !== 0) return t.pass(`cannot mount a tmpfs here: ${mount.stderr}`);
  t.teardown(() => execa('umount', ['-l', archive], { reject: false }).then(() => undefined));
  const r = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(r.code, 0);
  t.regex(r.stderr, /serial0: \S+serial0\.log not sealed: ENOSPC/);
  // The seal that failed does not cost serial1 its marker: boot 2 starts on a line of its own.
  t.regex(
    fs.readFileSync(log, 'utf8'),
    /boot 1 cut short by destr\n--- virt-consolelog boot=[0-9a-f]{16} host=\S+ at=\S+ ---\n$/,
  );
  const state = JSON.parse(fs.readFileSync(join(config.logRoot, UUID, 'domain.json'), 'utf8')) as {
    hosts: Record<string, { degraded?: string[] }>;
  };
  t.regex(JSON.stringify(state.hosts), /serial0: not sealed \(ENOSPC\)/, 'status shows the degraded seal');
  // The stop cannot seal either: named as such (no stack trace), the live files keep the bytes.
  const stop = await hook(env, ['guest1', 'release', 'end', '-'], xml);
  t.is(stop.code, 0);
  t.regex(stop.stderr, /store not writable \(ENOSPC\): not sealed now, the live files keep it/);
  t.notRegex(stop.stderr, /failed open/);
  t.regex(fs.readFileSync(log, 'utf8'), /\nboot 1 on serial1\n/, 'the live log keeps its bytes');
});
