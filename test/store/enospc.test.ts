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
