// kill -9 of the real hook (dist/hook.mjs) at random moments while it seals: afterwards the
// archive holds every byte exactly once and shows no half segment.
import test from 'ava';
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { liveLogPath } from '../../src/store/layout.js';
import { openSegment } from '../../src/store/segment-content.js';
import { listSegments } from '../../src/store/segments.js';
import { domainXml, hookEnv, UUID } from '../lifecycle/helpers.js';

const HOOK = resolve('dist/hook.mjs');

async function archived(config: Parameters<typeof listSegments>[0]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const s of listSegments(config, UUID))
    for await (const c of openSegment(config, UUID, s.key)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('kill -9 during seals loses and duplicates nothing', async (t) => {
  if (!fs.existsSync(HOOK)) return t.fail('dist/hook.mjs missing: npm run build');
  const { config, env } = hookEnv({ compressMinBytes: 4096, domainCapBytes: 0 });
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  fs.mkdirSync(join(live, '..'), { recursive: true });
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  const run = (argv: string[]) =>
    execa(process.execPath, [HOOK, ...argv], { input: xml, env: { ...env }, reject: false });
  await run(['guest1', 'prepare', 'begin', '-']);
  const output = () =>
    fs.appendFileSync(
      live,
      randomBytes(1024 * 1024)
        .toString('base64')
        .replace(/(.{100})/g, '$1\n'),
    );
  // Calibrate: how long one uninterrupted stop hook with this much to seal takes here.
  output();
  let started = Date.now();
  const first = await run(['guest1', 'release', 'end', '-']);
  t.is(first.exitCode, 0);
  t.is(first.stderr, '');
  let duration = Date.now() - started;
  let killed = 0;
  let completed = 0;
  for (let i = 0; i < 10; i++) {
    output();
    const child = run(['guest1', 'release', 'end', '-']);
    started = Date.now();
    // Kill somewhere in the second half of a typical run: mostly while sealing.
    await new Promise((r) => setTimeout(r, Math.floor(duration * (0.3 + 0.8 * Math.random()))));
    child.kill('SIGKILL');
    const r = await child;
    if (r.signal === 'SIGKILL') killed++;
    else {
      completed++;
      duration = Date.now() - started;
    }
    const names = fs.readdirSync(join(config.logRoot, UUID, 'archive'));
    for (const s of listSegments(config, UUID)) t.true(names.includes(`${s.key}.json`));
  }
  const last = await run(['guest1', 'release', 'end', 'destroyed']);
  t.is(last.exitCode, 0);
  // A kill between the lock's mkdir and its owner file leaves a lock without an owner: the next hook
  // removes it once it is stale (RELIABILITY.md fix 11), as it removes a dead process's lock.
  t.regex(
    last.stderr,
    /^(virt-consolelog: guest1 release end: removed (the lock of dead process \d+|a lock whose creator never recorded itself \(\d+ s old\)))?$/,
  );
  const all = await archived(config);
  const expected = fs.readFileSync(live);
  t.log(
    `${killed} hooks killed, ${completed} completed, ${listSegments(config, UUID).length} segments, ${expected.length} bytes`,
  );
  t.true(killed > 0);
  t.is(all.length, expected.length);
  t.true(all.equals(expected), 'archive = live file, byte for byte');
  t.false(fs.readdirSync(join(config.logRoot, UUID, 'archive')).some((n) => n.startsWith('.tmp-')));
});
