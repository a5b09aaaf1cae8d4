// Reading without root: the store laid out as the package lays it out (log_root root:GROUP 2750,
// so every folder and file the hook creates inherits the group), read by the built CLI run as an
// unprivileged uid (setpriv) inside the reading group and outside it. live_dir is root's own, as
// virtlogd's folder is.
import test from 'ava';
import { execa } from 'execa';
import * as fs from 'node:fs';
import { liveLogPath } from '../../src/store/layout.js';
import { READ_GROUP } from '../../src/cli/store-access.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';
import { CLI_JS } from '../lab/harness.js';

/** Numeric ids (no user or group needs to exist for setpriv). */
const UID = 4242;
const GROUP = 4711;
const OTHER_GROUP = 4712;

const asUser = (groups: number, env: NodeJS.ProcessEnv, args: string[]) =>
  execa(
    'setpriv',
    [`--reuid=${UID}`, `--regid=${UID}`, `--groups=${groups}`, process.execPath, CLI_JS, ...args],
    { env, reject: false },
  );

test('a member of the reading group runs show and status; anyone else gets one line naming the group', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('needs root (setpriv to another uid)');
  const { config, env } = hookEnv();
  fs.chmodSync(config.base, 0o755);
  fs.mkdirSync(config.logRoot, { recursive: true });
  fs.chownSync(config.logRoot, 0, GROUP);
  fs.chmodSync(config.logRoot, 0o2750);
  const path = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${path}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(path, 'sealed line\n');
  await hook(env, ['guest1', 'release', 'end', 'shutdown'], xml);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(path, 'live line\n');
  // As virtlogd's /var/log/libvirt/qemu: root only.
  fs.chmodSync(config.liveDir, 0o700);

  const show = await asUser(GROUP, env, ['show', 'guest1']);
  t.is(show.exitCode, 0, show.stderr);
  t.regex(show.stdout, /^-- Boot .* --\nsealed line/);
  t.notRegex(show.stdout, /live line/, 'the live part is root-only, as virtlogd writes it');
  const status = await asUser(GROUP, env, ['status', 'guest1']);
  t.is(status.exitCode, 0, status.stderr);
  t.regex(status.stdout, /live not readable by this user/);

  for (const cmd of ['show', 'status']) {
    const denied = await asUser(OTHER_GROUP, env, [cmd, 'guest1']);
    t.is(denied.exitCode, 1);
    t.is(denied.stdout, '');
    t.is(
      denied.stderr,
      `virt-consolelog ${cmd}: cannot read ${config.logRoot}: the store is readable by root and the group ${READ_GROUP} (add yourself: usermod -aG ${READ_GROUP} $USER, then log in again)`,
    );
  }
  // Root still sees everything.
  const root = await execa(process.execPath, [CLI_JS, 'show', 'guest1'], { env });
  t.regex(root.stdout, /sealed line\n[^]*live line$/);
});
