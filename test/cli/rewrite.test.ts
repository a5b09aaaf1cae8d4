import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { listChardevs } from '../../src/xml/chardevs.js';
import { readConsolelogMetadata } from '../../src/xml/metadata.js';
import { UUID, domain, live, validate } from '../xml/helpers.js';

let dir = '';
let conf = '';
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vcl-cli-'));
  conf = path.join(dir, 'c.conf');
  await writeFile(conf, `host_name = "hosta"\nstate_dir = "${dir}/state"\n`);
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const input = new PassThrough();
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += String(c)));
  err.on('data', (c) => (stderr += String(c)));
  input.end(stdin);
  const code = await main(['--config', conf, ...args], { stdin: input, stdout: out, stderr: err, env: {} });
  return { code, stdout, stderr };
}

const xml = domain(`    <serial type='file'>
      <source path='/tmp/guest1.log'/>
      <target port='0'/>
    </serial>`);

test('rewrite: stdin -> stdout; warnings on stderr', async (t) => {
  const r = await cli(['rewrite'], xml);
  t.is(r.code, 0);
  t.is(await validate(r.stdout), undefined);
  t.deepEqual(
    listChardevs(r.stdout).map((d) => [d.type, d.logFile]),
    [['pty', live('serial0')]],
  );
  t.regex(r.stderr, /serial0: file source "\/tmp\/guest1.log" is outside allowed_roots/);
});

test('rewrite --host records that host; the live path is the same on every host', async (t) => {
  const r = await cli(['rewrite', '--host', 'hostq'], xml);
  t.is(r.code, 0);
  t.is(listChardevs(r.stdout)[0]?.logFile, live('serial0'));
  t.is(readConsolelogMetadata(r.stdout).host, 'hostq');
});

test('rewrite --dry-run prints a unified diff, and nothing when nothing changes', async (t) => {
  const r = await cli(['rewrite', '--dry-run'], xml);
  t.is(r.code, 0);
  t.regex(r.stdout, /^--- domain.xml\n\+\+\+ domain.xml \(rewritten\)\n@@ /);
  t.regex(
    r.stdout,
    /\n- {4}<serial type='file'>\n- {6}<source path='\/tmp\/guest1.log'\/>\n\+ {4}<serial type='pty'>\n/,
  );
  const done = await cli(['rewrite'], xml);
  const none = await cli(['rewrite', '--dry-run'], done.stdout);
  t.is(none.code, 0);
  t.is(none.stdout, '');
});

test('rewrite --uuid adds a missing <uuid>; --uuid-from-xml is the default', async (t) => {
  const noUuid = xml.replace(`\n  <uuid>${UUID}</uuid>`, '');
  const refused = await cli(['rewrite', '--uuid-from-xml'], noUuid);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /the domain has no <uuid>/);
  const other = '11111111-2222-3333-4444-555555555555';
  const r = await cli(['rewrite', '--uuid', other], noUuid);
  t.is(r.code, 0);
  t.true(r.stdout.includes(`<uuid>${other}</uuid>`));
  t.is(listChardevs(r.stdout)[0]?.logFile, live('serial0', other));
  const clash = await cli(['rewrite', '--uuid', other], xml);
  t.is(clash.code, 2);
  t.regex(clash.stderr, /already has <uuid>/);
});

test('malformed XML: exit 2 with a message naming the problem, nothing on stdout', async (t) => {
  const r = await cli(['rewrite'], "<domain type='kvm'>\n  <name>x</name>\n  <devices>\n</domain>\n");
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^virt-consolelog rewrite: malformed XML at line 4, column \d+: .*devices/);
  const dtd = await cli(['rewrite'], '<!DOCTYPE domain [<!ENTITY a "b">]><domain/>');
  t.is(dtd.code, 2);
  t.regex(dtd.stderr, /<!DOCTYPE>.*no DTD/);
});

test('bad options: exit 2 with usage hint; --help prints the usage', async (t) => {
  for (const args of [
    ['--mode', 'sideways'],
    ['--host', '../x'],
    ['--uuid', 'nope'],
    ['--frobnicate'],
    ['file.xml'],
    ['--host'],
  ]) {
    const r = await cli(['rewrite', ...args], xml);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, /Try 'virt-consolelog rewrite --help'/);
  }
  const help = await cli(['rewrite', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^usage: virt-consolelog rewrite \[OPTIONS\]/);
  for (const opt of ['--host', '--mode', '--uuid-from-xml', '--uuid UUID', '--dry-run', 'Exit codes'])
    t.true(help.stdout.includes(opt), opt);
});

test('--mode define|migrate|restore all accepted', async (t) => {
  for (const mode of ['define', 'migrate', 'restore']) {
    const r = await cli(['rewrite', `--mode=${mode}`], xml);
    t.is(r.code, 0, mode);
  }
});
