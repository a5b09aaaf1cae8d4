// show as a person and a shipper use it: output modes, grep, reverse, --all, a closed pipe, -f's
// first 10 lines. A store built by the real hook on temp folders; the built CLI for pipes.
import test from 'ava';
import { execa } from 'execa';
import * as fs from 'node:fs';
import { runCli, UUID } from '../lifecycle/helpers.js';
import { CLI_JS } from '../lab/harness.js';
import { store } from './show-store.js';

test('-b -1 after DOMAIN selects the boot before the newest', async (t) => {
  const { env } = await store(3);
  const r = await runCli(env, ['show', 'guest1', '-b', '-1']);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /^-- Boot \S+ on \S+ at \S+ --\nboot1 line 0\nboot1 line 1\nboot1 line 2\n$/);
  const newest = await runCli(env, ['show', 'guest1', '-b']);
  t.regex(newest.out, /boot2 line 2\n$/);
  t.notRegex(newest.out, /boot1/);
});

test('-o json and short-iso give each line its domain, device, boot and a coarse time', async (t) => {
  const { env } = await store(2);
  const r = await runCli(env, ['show', '-o', 'json', 'guest1']);
  const objs = r.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const lines = objs.filter((o) => o.type === 'line');
  t.deepEqual(
    lines.map((l) => l.text),
    ['boot1 line 0', 'boot1 line 1', 'boot2 line 0', 'boot2 line 1'],
  );
  for (const l of lines) {
    t.like(l, { name: 'guest1', uuid: UUID, device: 'serial0', coarse: true });
    t.regex(String(l.time), /^\d{4}-\d\d-\d\dT/);
    t.is(typeof l.boot, 'string');
  }
  t.is(objs.filter((o) => o.type === 'boot').length, 2);
  const iso = await runCli(env, ['show', 'guest1', '-o', 'short-iso', '-n', '1']);
  // No capture service ran: the time is the seal's or the live file's, marked coarse with `~`.
  t.regex(iso.out, /\n~\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \S+ guest1\[serial0\]: boot2 line 1\n$/);
  const precise = await runCli(env, ['show', 'guest1', '-o', 'short-iso-precise', '-n', '1']);
  t.regex(
    precise.out,
    /\n~\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4} \S+ guest1\[serial0\]: boot2 line 1\n$/,
  );
  const noHost = await runCli(env, ['show', 'guest1', '-o', 'short-iso', '-n', '1', '--no-hostname']);
  t.regex(noHost.out, /\n\S+ guest1\[serial0\]: boot2 line 1\n$/);
});

test('-g greps (smart case), -n with -g counts matches, -r reverses', async (t) => {
  const { env } = await store(12);
  const g = await runCli(env, ['show', 'guest1', '-g', 'line 1[01]|boot1 line 3$', '-o', 'cat']);
  t.is(g.out, 'boot1 line 3\nboot1 line 10\nboot1 line 11\nboot2 line 10\nboot2 line 11\n');
  // A capital makes it case-sensitive (journalctl's smart case).
  t.is((await runCli(env, ['show', 'guest1', '-o', 'cat', '-g', 'LINE 1'])).out, '');
  t.is((await runCli(env, ['show', 'guest1', '-o', 'cat', '-g', 'BOOT2 LINE 11'])).out, '');
  t.is(
    (await runCli(env, ['show', 'guest1', '-o', 'cat', '-g', 'BOOT2 LINE 11'.toLowerCase()])).out,
    'boot2 line 11\n',
  );
  const smart = await runCli(env, ['show', 'guest1', '-o', 'cat', '-g', 'boot2 line 1']);
  t.is(smart.out, 'boot2 line 1\nboot2 line 10\nboot2 line 11\n');
  const last = await runCli(env, ['show', 'guest1', '-o', 'cat', '-g', 'line 1', '-n', '2']);
  t.is(last.out, 'boot2 line 10\nboot2 line 11\n');
  const rev = await runCli(env, ['show', 'guest1', '-r', '-n', '3']);
  t.regex(rev.out, /^-- Boot .* --\nboot2 line 11\nboot2 line 10\nboot2 line 9\n$/);
  const sep = await runCli(env, ['show', 'guest1', '-g', 'line 0$']);
  t.is((sep.out.match(/^-- Boot/gm) ?? []).length, 2, 'one separator per boot with a match');
});

test('--all -o json: every domain of the store, each line naming its domain', async (t) => {
  const { env } = await store(2);
  const r = await runCli(env, ['show', '--all', '-o', 'json']);
  t.is(r.code, 0, r.err);
  const lines = r.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; name: string; text: string })
    .filter((o) => o.type === 'line');
  t.deepEqual(lines.map((l) => `${l.name}: ${l.text}`).sort(), [
    'guest1: boot1 line 0',
    'guest1: boot1 line 1',
    'guest1: boot2 line 0',
    'guest1: boot2 line 1',
    'guest2: guest2 says hi',
  ]);
});

test('show | head -1: no stderr, exit 0 (a closed pipe ends quietly)', async (t) => {
  const { env } = await store(20000);
  const shown = execa(process.execPath, [CLI_JS, 'show', 'guest1'], { env, reject: false });
  const head = await shown.pipe('head', ['-1']);
  t.is(head.stdout, '-- Boot ' + head.stdout.slice(8));
  const r = await shown;
  t.is(r.stderr, '');
  t.is(r.exitCode, 0);
});

test('-f prints the last 10 lines, then follows', async (t) => {
  const { env, live } = await store(500);
  const f = execa(process.execPath, [CLI_JS, 'show', '-f', 'guest1'], { env, reject: false });
  let out = '';
  const seen = (s: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (out.includes(s)) {
          f.stdout.off('data', on);
          resolve();
        }
      };
      const on = (c: Buffer) => {
        out += c.toString();
        check();
      };
      f.stdout.on('data', on);
      check();
    });
  await seen('boot2 line 499\n');
  t.regex(out, /^-- Boot .* --\n(boot2 line 4(9\d)\n){10}$/);
  t.is(out.split('\n').filter((l) => l.startsWith('boot')).length, 10);
  fs.appendFileSync(live, 'new after follow\n');
  await seen('new after follow\n');
  f.kill('SIGTERM');
  const r = await f;
  t.is(r.exitCode, 0);
  t.true(out.endsWith('boot2 line 499\nnew after follow\n'));
});
