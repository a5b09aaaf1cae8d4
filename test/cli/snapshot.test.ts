// The command's launcher (packaging/cli-launcher.sh.in, dist/virt-consolelog here) and `show`'s start-up
// snapshot (src/cli/snapshot.ts): the hook's launcher builds the CLI's blob beside its own; `show` run from
// it prints exactly what the plain CLI prints (times in the caller's time zone, the pager, exit codes); a
// followed `show`, other commands and a refused folder run plainly; a broken blob is removed and the plain
// CLI prints the same. This machine's Node has its own start-up snapshot, so the blob is forced (=1); the
// Debian chroot test covers auto on Debian's Node.
import test from 'ava';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../xml/helpers.js';
import { UUID } from '../lifecycle/helpers.js';
import { store } from './show-store.js';

const CLI = path.join(repoRoot, 'dist/virt-consolelog');
const CLI_JS = path.join(repoRoot, 'dist/virt-consolelog.mjs');
const HOOK = path.join(repoRoot, 'dist/virt-consolelog-hook');

let root = '';
let storeEnv: NodeJS.ProcessEnv = {};
test.before(async () => {
  if (!existsSync(path.join(repoRoot, 'dist/cli-snapshot.cjs')))
    throw new Error('dist/cli-snapshot.cjs is missing: run `npm run build` first');
  root = await mkdtemp(path.join(tmpdir(), 'vcl-cli-snapshot-'));
  storeEnv = (await store(40)).env;
});
test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

function env(cache: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LC_ALL: 'C',
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    VIRT_CONSOLELOG_CONFIG: String(storeEnv.VIRT_CONSOLELOG_CONFIG),
    VIRT_CONSOLELOG_SNAPSHOT: '1',
    VIRT_CONSOLELOG_SNAPSHOT_DIR: cache,
    VIRT_CONSOLELOG_HOOK_SERVER: '0', // a capture service would answer `show` (test/cli/show-service.test.ts)
    ...extra,
  };
}

/** The package's install step on `cache`: the hook's launcher builds both blobs (forced unless `extra` says). */
const buildSnapshot = (cache: string, extra: Record<string, string> = {}) =>
  execa(HOOK, ['--build-snapshot'], { env: env(cache, extra), extendEnv: false, reject: false });

/** A cache folder as the package's install step leaves it. */
async function prepared(name: string, extra: Record<string, string> = {}): Promise<string> {
  const cache = path.join(root, name);
  await mkdir(cache, { mode: 0o700 });
  const r = await buildSnapshot(cache, extra);
  if (r.exitCode !== 0) throw new Error(`--build-snapshot failed: ${r.stderr}`);
  return cache;
}

/** The launcher traced (sh -x): whether it started Node from the CLI's blob. */
async function viaLauncher(cache: string, args: string[], extra: Record<string, string> = {}) {
  const r = await execa('sh', ['-x', CLI, ...args], {
    env: env(cache, extra),
    extendEnv: false,
    reject: false,
  });
  const trace = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('+'))
    .join('\n');
  const stderr = r.stderr
    .split('\n')
    .filter((l) => !l.startsWith('+'))
    .join('\n');
  return {
    exitCode: r.exitCode,
    stdout: r.stdout,
    stderr,
    fromBlob: /--snapshot-blob \S*cli-/.test(trace),
    // Ran the one-file `show` bundle without a blob, or the ES module CLI.
    bundle: /^\+ exec \S+ \S*\/cli-snapshot\.cjs /m.test(trace),
    cli: /^\+ exec \S+ \S*\/virt-consolelog\.mjs /m.test(trace),
  };
}

async function plain(args: string[], extra: Record<string, string> = {}) {
  return execa(process.execPath, [CLI_JS, ...args], {
    env: env('/nonexistent', extra),
    extendEnv: false,
    reject: false,
  });
}

test('the install step builds the CLI blob beside the hook one, and drops stale ones', async (t) => {
  const cache = path.join(root, 'install');
  await mkdir(cache, { mode: 0o700 });
  // What an earlier package left: a blob for other code.
  await writeFile(path.join(cache, 'cli-755_1-2-3-4_644_5-6-7-8.blob'), 'old', { mode: 0o600 });
  const r = await buildSnapshot(cache);
  t.is(r.exitCode, 0, r.stderr);
  const made = files(cache);
  t.is(made.length, 2, made.join(' '));
  t.regex(made[0] ?? '', /^cli-[\d_-]+\.blob$/);
  t.regex(made[1] ?? '', /^hook-[\d_-]+\.blob$/);
  t.false(made.includes('cli-755_1-2-3-4_644_5-6-7-8.blob'), 'the stale blob is gone');
  for (const f of made) t.is(statSync(path.join(cache, f)).mode & 0o777, 0o600, f);
});

const SHOW_CASES: [string[], Record<string, string>][] = [
  [['show', 'guest1'], {}],
  [['show', '-c', '100', 'guest1'], {}],
  [['show', '-n', '5', '-o', 'short-iso-precise', 'guest1'], { TZ: 'Asia/Tokyo' }],
  [['show', '-n', '5', '-o', 'short-iso-precise', 'guest1'], { TZ: 'America/New_York' }],
  [['show', '--list-boots', UUID], { TZ: 'Europe/Berlin' }],
  [['show', '-o', 'json', '-r', '-g', 'line 3', 'guest1'], {}],
  [['show', 'no-such-guest'], {}],
  [['show', '--bogus'], {}],
  [['show', '--help'], {}],
];

test('show from the blob prints what the plain CLI prints, exit codes and time zones included', async (t) => {
  const cache = await prepared('same');
  for (const [args, extra] of SHOW_CASES) {
    const what = `${args.join(' ')} ${JSON.stringify(extra)}`;
    const expected = await plain(args, extra);
    const got = await viaLauncher(cache, args, extra);
    t.true(got.fromBlob, `${what}: started from the blob`);
    t.is(got.stdout, expected.stdout, what);
    t.is(got.stderr, expected.stderr, what);
    t.is(got.exitCode, expected.exitCode, what);
  }
  // Different zones give different times: the blob did not keep the zone it was built in.
  const tokyo = await viaLauncher(cache, ['show', '-n', '1', '-o', 'short-iso', 'guest1'], {
    TZ: 'Asia/Tokyo',
  });
  const utc = await viaLauncher(cache, ['show', '-n', '1', '-o', 'short-iso', 'guest1'], { TZ: 'UTC' });
  t.not(tokyo.stdout, utc.stdout);
});

test('without a blob (auto, a Node with its own start-up snapshot) show runs the one-file bundle: same output', async (t) => {
  // The install step on this Node leaves a .plain note and no CLI blob.
  const cache = await prepared('auto', { VIRT_CONSOLELOG_SNAPSHOT: 'auto' });
  t.deepEqual(
    files(cache).filter((f) => f.startsWith('cli-')),
    [],
  );
  for (const [args, extra] of SHOW_CASES) {
    const what = `${args.join(' ')} ${JSON.stringify(extra)}`;
    const expected = await plain(args, extra);
    const got = await viaLauncher(cache, args, { VIRT_CONSOLELOG_SNAPSHOT: 'auto', ...extra });
    t.true(got.bundle && !got.fromBlob, `${what}: ran the bundle plainly`);
    t.is(got.stdout, expected.stdout, what);
    t.is(got.stderr, expected.stderr, what);
    t.is(got.exitCode, expected.exitCode, what);
  }
  // The bundle holds show alone: another command started with it says so.
  const other = await execa(process.execPath, [path.join(repoRoot, 'dist/cli-snapshot.cjs'), 'status'], {
    reject: false,
  });
  t.not(other.exitCode, 0);
  t.regex(other.stderr, /only show is in this bundle; run virt-consolelog/);
});

test('show loads node:crypto only to hash the head of a live file, where Node loads built-ins on demand', async (t) => {
  // src/util/crypto.ts: node:crypto (~5 ms of a run) is loaded at the first hash. guest1's live file
  // continues a sealed part (its head is hashed to tell it is the same file); guest2 has nothing sealed.
  t.is(typeof process.getBuiltinModule, 'function', 'this Node has process.getBuiltinModule');
  const probe = path.join(root, 'builtins.cjs');
  await writeFile(
    probe,
    "process.on('exit', () => process.stderr.write('\\nloaded: ' + process.moduleLoadList.join(',') + '\\n'));\n",
  );
  const loads = async (guest: string) => {
    const args = ['show', '-n', '5', guest];
    const run = await execa(
      process.execPath,
      ['-r', probe, path.join(repoRoot, 'dist/cli-snapshot.cjs'), ...args],
      {
        env: env(root),
        extendEnv: false,
        reject: false,
      },
    );
    t.is(run.stdout, (await plain(args)).stdout, guest);
    const loaded = /^loaded: (.*)$/m.exec(run.stderr)?.[1]?.split(',') ?? [];
    t.true(loaded.includes('NativeModule fs'), `${guest}: the probe saw the run`);
    return loaded.includes('NativeModule crypto');
  };
  t.false(await loads('guest2'), 'nothing to hash: node:crypto not loaded');
  t.true(await loads('guest1'), 'a live head to hash: node:crypto loaded');
});

test('show from the blob pages to a terminal through the pager it starts', async (t) => {
  const cache = await prepared('pager');
  // script(1) gives the command a terminal; the "pager" marks every line it passes.
  const run = (launcher: string) =>
    execa('script', ['-qec', `${launcher} show -n 3 guest1`, '/dev/null'], {
      env: env(cache, { PAGER: 'sed s/^/paged:/', TERM: 'dumb' }),
      extendEnv: false,
      reject: false,
    });
  const fromBlob = await run(`sh -x ${CLI}`);
  t.is(fromBlob.exitCode, 0, fromBlob.stderr);
  t.regex(fromBlob.stdout, /--snapshot-blob \S*cli-/, 'started from the blob');
  const paged = (out: string) => out.split(/\r?\n/).filter((l) => l.startsWith('paged:'));
  const expected = paged((await run(`${process.execPath} ${CLI_JS}`)).stdout);
  t.is(expected.length, 4, 'a boot separator and 3 lines, paged');
  t.deepEqual(paged(fromBlob.stdout), expected);
});

test('a followed show, another command or show after a global option runs plainly', async (t) => {
  const cache = await prepared('plain-paths');
  for (const args of [
    ['show', '-f', 'no-such-guest'],
    ['show', '-fn', '3', 'no-such-guest'],
    ['show', 'no-such-guest', '--follow'],
    ['status', 'no-such-guest'],
    ['--config', String(storeEnv.VIRT_CONSOLELOG_CONFIG), 'show', 'guest1'],
  ]) {
    const got = await viaLauncher(cache, args);
    const expected = await plain(args);
    t.false(got.fromBlob, args.join(' '));
    t.true(got.cli, `${args.join(' ')}: the ES module CLI`);
    t.is(got.exitCode, expected.exitCode, args.join(' '));
    t.is(got.stdout, expected.stdout, args.join(' '));
  }
  // VIRT_CONSOLELOG_SNAPSHOT=0 turns it off for the command too.
  t.false((await viaLauncher(cache, ['show', 'guest1'], { VIRT_CONSOLELOG_SNAPSHOT: '0' })).fromBlob);
});

test('a folder open to others is not used; a corrupted or deleted blob gives the plain output, --build-snapshot a new one', async (t) => {
  const expected = await plain(['show', 'guest1']);
  const open755 = await prepared('open');
  await chmod(open755, 0o755);
  const refused = await viaLauncher(open755, ['show', 'guest1']);
  t.false(refused.fromBlob);
  t.is(refused.stdout, expected.stdout);
  t.is(refused.stderr, '', 'a user whose folder it is not runs plainly and quietly');

  const cache = await prepared('broken');
  const [blob = ''] = files(cache).filter((f) => f.startsWith('cli-'));
  const blobPath = path.join(cache, blob);
  // Corrupted in V8's part (the first bytes, which V8 checksums; Node's data after it is not checked):
  // Node crashes before any JavaScript; the launcher runs the plain bundle.
  const fh = await open(blobPath, 'r+');
  await fh.write(Buffer.from('corrupted by the test'), 0, 21, Math.floor(statSync(blobPath).size / 4));
  await fh.close();
  const corrupt = await viaLauncher(cache, ['show', 'guest1']);
  t.is(corrupt.exitCode, 0, corrupt.stderr);
  t.is(corrupt.stdout, expected.stdout);
  t.regex(corrupt.stderr, /start-up snapshot .*cli-.* did not load .*: removed, running without it/);
  t.false(existsSync(blobPath), 'the broken blob is removed');
  // Gone: plain, quietly.
  const gone = await viaLauncher(cache, ['show', 'guest1']);
  t.false(gone.fromBlob);
  t.is(gone.stdout, expected.stdout);
  t.is(gone.stderr, '');
  // The install step builds the missing one again and leaves the hook's blob as it was.
  const [hookBlob = ''] = files(cache).filter((f) => f.startsWith('hook-'));
  const hookMtime = statSync(path.join(cache, hookBlob)).mtimeMs;
  const rebuilt = await buildSnapshot(cache);
  t.is(rebuilt.exitCode, 0, rebuilt.stderr);
  t.deepEqual(files(cache), [blob, hookBlob]);
  t.is(statSync(path.join(cache, hookBlob)).mtimeMs, hookMtime);
  const again = await viaLauncher(cache, ['show', 'guest1']);
  t.true(again.fromBlob);
  t.is(again.stdout, expected.stdout);
});
