// strict = 1: what keeps an event from being logged fails the operation (exit 1); by default the
// same hook reports it and exits 0 (fail open). A crash fails it either way under strict.
import test from 'ava';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { liveLogPath } from '../../src/store/layout.js';
import { domainXml, hook, hookEnv, UUID } from './helpers.js';

function setup(strict: boolean) {
  const h = hookEnv();
  fs.appendFileSync(h.env.VIRT_CONSOLELOG_CONFIG, `strict = ${strict ? 1 : 0}\nlock_wait_ms = 200\n`);
  return h;
}

for (const strict of [false, true]) {
  const code = strict ? 1 : 0;

  test(`strict = ${strict ? 1 : 0}: a migrate begin whose XML cannot be rewritten exits ${code}, prints nothing`, async (t) => {
    const { env } = setup(strict);
    const r = await hook(env, ['guest1', 'migrate', 'begin', '-'], '<domain><name>x</name><devices>');
    t.is(r.code, code);
    t.is(r.stdout, '');
    t.regex(r.stderr, /domain XML left unchanged/);
  });

  test(`strict = ${strict ? 1 : 0}: a start whose store lock is held past lock_wait_ms exits ${code}`, async (t) => {
    const { config, env } = setup(strict);
    const live = liveLogPath(config.liveDir, UUID, 'serial0');
    const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
    t.is((await hook(env, ['guest1', 'prepare', 'begin', '-'], xml)).code, 0, 'a usable store: exit 0');
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    t.teardown(() => void holder.kill('SIGKILL'));
    const dir = join(config.logRoot, UUID);
    fs.mkdirSync(join(dir, '.lock'));
    const lock = fs.statSync(join(dir, '.lock')).ino;
    fs.writeFileSync(
      join(dir, '.lock.owner'),
      JSON.stringify({ host: config.hostName, pid: holder.pid, at: Date.now(), lock }),
    );
    const r = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
    t.is(r.code, code);
    t.regex(r.stderr, /still held after \d+ ms .*nothing sealed, start goes on/);
    const stop = await hook(env, ['guest1', 'release', 'end', '-'], xml);
    t.is(stop.code, code, 'the stop too');
  });

  test(`strict = ${strict ? 1 : 0}: reported but recovered problems (a bad config line) never fail`, async (t) => {
    const { config, env } = setup(strict);
    fs.appendFileSync(env.VIRT_CONSOLELOG_CONFIG, 'compress_min_bytes = lots\n');
    const live = liveLogPath(config.liveDir, UUID, 'serial0');
    const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
    const r = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
    t.is(r.code, 0);
    t.regex(r.stderr, /compress_min_bytes: expected an integer/);
  });
}
