import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { authorizedKeysLine } from '../../src/cli/commands/keys.js';
import { markIncomingMigration, takeIncomingMigration } from '../../src/transfer/start.js';
import { cli, makeWorld } from './helpers.js';

const U = '0f8fad5b-d9cb-469f-a165-70867728950e';

test('authorized_keys line: restrict + forced command, optional from=, bad input refused', (t) => {
  const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv8 virt-consolelog@hv1\n';
  t.is(
    authorizedKeysLine(pub, '/usr/bin/virt-consolelog serve-export'),
    'restrict,command="/usr/bin/virt-consolelog serve-export" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv8 virt-consolelog@hv1',
  );
  t.regex(
    authorizedKeysLine(pub, 'x serve-export', '10.0.0.0/24'),
    /^restrict,from="10.0.0.0\/24",command="x serve-export" /,
  );
  t.throws(() => authorizedKeysLine('not a key', 'x'));
  t.throws(() => authorizedKeysLine(pub, 'x" ,permitopen="*'));
  t.throws(() => authorizedKeysLine(pub, 'x', '"*"'));
});

test('keys --generate creates the dedicated key once and prints its line', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const h = w.host('lab-a', `ssh_key = "${w.dir}/lab-a/ssh/id_ed25519"`);
  const missing = await cli(['--config', h.configFile, 'keys']);
  t.is(missing.code, 3);
  const r = await cli(['--config', h.configFile, 'keys', '--generate']);
  t.is(r.code, 0, r.stderr);
  t.regex(
    r.stdout.toString(),
    /^restrict,command="\/usr\/bin\/virt-consolelog serve-export" ssh-ed25519 \S+ virt-consolelog@lab-a\n$/,
  );
  const key = readFileSync(`${w.dir}/lab-a/ssh/id_ed25519`, 'utf8');
  const again = await cli(['--config', h.configFile, 'keys', '--generate']);
  t.is(again.stdout.toString(), r.stdout.toString());
  t.is(readFileSync(`${w.dir}/lab-a/ssh/id_ed25519`, 'utf8'), key, 'an existing key is never replaced');
  t.is(
    execFileSync('stat', ['-c', '%a', `${w.dir}/lab-a/ssh/id_ed25519`])
      .toString()
      .trim(),
    '600',
  );
});

test('sync: bad command lines and unknown domains', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const h = w.host('lab-a');
  const run = (...a: string[]) => cli(['--config', h.configFile, 'sync', ...a]);
  t.is((await run()).code, 2);
  t.is((await run(U, '--all')).code, 2);
  t.is((await run('--all', '--from', 'lab-b')).code, 2);
  t.is((await run(U, '--from', '-oProxyCommand=x')).code, 2);
  t.is((await run(U, '--bogus')).code, 2);
  t.is((await run('no-such-guest')).code, 3);
  t.is((await run(U)).code, 2, 'no record and no peers: --from needed');
  const all = await run('--all');
  t.is(all.code, 0);
  t.regex(all.stdout.toString(), /nothing to sync/);
});

test('an incoming migration is told to the next prepare once, and only for a while', (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const { config } = w.host('lab-b');
  const t0 = new Date('2026-01-01T00:00:00Z');
  t.false(takeIncomingMigration(config, U, t0));
  markIncomingMigration(config, U, t0);
  t.true(takeIncomingMigration(config, U, new Date(t0.getTime() + 3000)));
  t.false(takeIncomingMigration(config, U, new Date(t0.getTime() + 4000)), 'only once');
  markIncomingMigration(config, U, t0);
  t.false(takeIncomingMigration(config, U, new Date(t0.getTime() + 3600_000)), 'a stale mark is no arrival');
  t.false(existsSync(`${config.stateDir}/transfer/${U}.incoming`));
});
