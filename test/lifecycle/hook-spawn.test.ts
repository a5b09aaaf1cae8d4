// The compiled hook, run exactly as libvirt runs it: `env -i LC_ALL=C PATH=... HOOK NAME OP SUBOP EXTRA`,
// domain XML on stdin. The hook reads /etc/virt-consolelog and /var/lib/virt-consolelog, so each run
// happens in a private mount namespace with temp folders bind-mounted over both.
import test from 'ava';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parseConfig } from '../../src/config/parse.js';
import { rewriteDomainXml } from '../../src/xml/rewrite.js';
import { domain, repoRoot, validate } from '../xml/helpers.js';

const HOOK = path.join(repoRoot, 'dist/virt-consolelog-hook');
const CONF_DIR = '/etc/virt-consolelog';
const STATE_DIR = '/var/lib/virt-consolelog';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

test.before(() => {
  // `npm test` builds first. A test never rebuilds dist/ itself: other test files run the hook from it
  // at the same time, and a build replaces its chunks.
  const built = existsSync(HOOK) && existsSync(path.join(repoRoot, 'dist/hook.mjs'));
  const stale =
    !built ||
    statSync(path.join(repoRoot, 'dist/hook.mjs')).mtimeMs <
      Math.max(newestMtime(path.join(repoRoot, 'src')), newestMtime(path.join(repoRoot, 'hooks')));
  if (stale) throw new Error('dist/ is missing or older than src/: run `npm run build` first');
});

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  state: string;
}

const CONFIG = 'host_name = "hosta"\n';

async function runHook(args: string[], stdin: string, configText = CONFIG): Promise<Run> {
  const etc = await mkdtemp(path.join(tmpdir(), 'vcl-hook-etc-'));
  const state = await mkdtemp(path.join(tmpdir(), 'vcl-hook-state-'));
  dirs.push(etc, state);
  await writeFile(path.join(etc, 'virt-consolelog.conf'), configText);
  // Mount points must exist to bind over them (empty folders; nothing is written to the real ones).
  await mkdir(CONF_DIR, { recursive: true });
  await mkdir(STATE_DIR, { recursive: true });
  const script =
    'mount --bind "$1" "$3" && mount --bind "$2" "$4" && shift 4 && ' +
    'exec env -i LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"';
  const r = await execa(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      etc,
      state,
      CONF_DIR,
      STATE_DIR,
      HOOK,
      ...args,
    ],
    { input: stdin, reject: false, stripFinalNewline: false },
  );
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), state };
}

const xml = domain(`    <serial type='file'>
      <source path='/var/lib/nova/instances/c7a5fdbd-edaf-9455-926a-d65c16db1809/console.log'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='/var/lib/nova/instances/c7a5fdbd-edaf-9455-926a-d65c16db1809/console.log'/>
      <target type='serial' port='0'/>
    </console>`);

for (const op of ['migrate', 'restore']) {
  test(`${op} begin: the rewritten XML on stdout, exit 0`, async (t) => {
    const r = await runHook(['guest1', op, 'begin', '-'], xml);
    t.is(r.exitCode, 0);
    t.is(r.stderr, '');
    const expected = rewriteDomainXml(xml, {
      config: { ...parseConfig(CONFIG).config },
      facts: { host: 'hosta', canLogChardev: true },
      mode: op as 'migrate' | 'restore',
    }).xml;
    t.is(r.stdout, expected);
    t.regex(
      r.stdout,
      /<serial type='pty'>\n {6}<log file='\/var\/lib\/nova\/instances\/[^']+\/console.log' append='on'\/>/,
    );
    t.is(await validate(r.stdout), undefined);
    // Host facts were cached in the (bind-mounted) state_dir.
    t.true(existsSync(path.join(r.state, 'host-facts.json')));
  });
}

test('already rewritten or no chardevs: exit 0 and no output (= unchanged)', async (t) => {
  const first = await runHook(['guest1', 'migrate', 'begin', '-'], xml);
  const again = await runHook(['guest1', 'migrate', 'begin', '-'], first.stdout);
  t.is(again.exitCode, 0);
  t.is(again.stdout, '');
  const none = await runHook(['guest1', 'restore', 'begin', '-'], domain(''));
  t.is(none.exitCode, 0);
  t.is(none.stdout, '');
});

const ignored: string[][] = [
  ['guest1', 'reconnect', 'begin', '-'],
  ['guest1', 'attach', 'begin', '-'],
  ['guest1', 'migrate', 'end', '-'],
  ['guest1', 'start', 'begin', '-'],
  ['guest1', 'no-such-op', 'begin', '-'],
  ['guest1'],
  [],
];
for (const args of ignored) {
  test(`ignored event "${args.join(' ') || '(no arguments)'}": exit 0, no output, even with garbage on stdin`, async (t) => {
    for (const stdin of [xml, '<<<not xml']) {
      const r = await runHook(args, stdin);
      t.is(r.exitCode, 0);
      t.is(r.stdout, '');
      t.is(r.stderr, '');
    }
  });
}

test('malformed XML on migrate begin: exit 0, no output, the problem named on stderr', async (t) => {
  const r = await runHook(['guest1', 'migrate', 'begin', '-'], "<domain type='kvm'><devices></domain>");
  t.is(r.exitCode, 0);
  t.is(r.stdout, '');
  t.regex(
    r.stderr,
    /virt-consolelog: guest1 migrate begin: domain XML left unchanged: malformed XML at line 1/,
  );
});

test('a bad config value is reported and its default used; the rewrite still happens', async (t) => {
  const r = await runHook(
    ['guest1', 'migrate', 'begin', '-'],
    xml,
    `${CONFIG}keep_foreign_log_path = perhaps\n`,
  );
  t.is(r.exitCode, 0);
  t.regex(
    r.stderr,
    /config: \/etc\/virt-consolelog\/virt-consolelog.conf:2: keep_foreign_log_path: expected 0 or 1, got perhaps \(default used\)/,
  );
  t.regex(r.stdout, /<log file='\/var\/lib\/nova\/instances\/[^']+\/console.log' append='on'\/>/);
});
