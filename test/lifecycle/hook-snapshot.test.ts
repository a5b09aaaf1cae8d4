// The launcher's V8 snapshot path (VIRT_CONSOLELOG_SNAPSHOT, packaging/hook-launcher.sh.in): a missing
// blob is built in the background while hook.mjs runs, a good one gives the same output as hook.mjs, and a
// corrupted, truncated or deleted one still gives a correct hook run (the launcher falls back and removes it).
// The default (auto) on this machine's Node, which has its own start-up snapshot, notes that and builds no
// blob; Debian's own Node, which has none, gets one (test/packaging/chroot.test.ts).
// The config points every path into a temp folder (VIRT_CONSOLELOG_CONFIG), so no namespace is needed.
import test from 'ava';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, rm, symlink, truncate, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { domain, repoRoot, validate } from '../xml/helpers.js';
import { writeFolderConfig } from './helpers.js';

const HOOK = path.join(repoRoot, 'dist/virt-consolelog-hook');
const HOOK_JS = path.join(repoRoot, 'dist/hook.mjs');

let root = '';
test.before(async () => {
  if (!existsSync(path.join(repoRoot, 'dist/hook-snapshot.cjs')))
    throw new Error('dist/hook-snapshot.cjs is missing: run `npm run build` first');
  root = await mkdtemp(path.join(tmpdir(), 'vcl-hook-snapshot-'));
});
test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const XML = domain(
  "<serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>" +
    "<console type='pty'><target type='serial' port='0'/></console>",
);

type Mode = 'auto' | '0' | '1';

async function env(mode: Mode, cache = path.join(root, 'cache')): Promise<Record<string, string>> {
  const conf = await writeFolderConfig(root);
  return {
    LC_ALL: 'C',
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    VIRT_CONSOLELOG_CONFIG: conf,
    VIRT_CONSOLELOG_SNAPSHOT_DIR: cache,
    // auto is what an unset variable means: leave it unset, as /etc/default ships it.
    ...(mode !== 'auto' ? { VIRT_CONSOLELOG_SNAPSHOT: mode } : {}),
  };
}

async function migrateBegin(exe: string[], mode: Mode, cache?: string) {
  const [file = '', ...pre] = exe;
  return execa(file, [...pre, 'demo', 'migrate', 'begin', '-'], {
    input: XML,
    env: await env(mode, cache),
    extendEnv: false,
    reject: false,
  });
}

/** The launcher's own preparation step (what the package's postinst runs). */
async function buildSnapshot(mode: Mode, cache?: string) {
  return execa(HOOK, ['--build-snapshot'], { env: await env(mode, cache), extendEnv: false, reject: false });
}

const files = (dir = path.join(root, 'cache')) => (existsSync(dir) ? readdirSync(dir).sort() : []);
/** The hook's blobs (the CLI's, cli-KEY.blob, are built beside them: test/cli/snapshot.test.ts). */
const blobs = (dir?: string) => files(dir).filter((f) => f.startsWith('hook-') && f.endsWith('.blob'));

/** Waits until no background preparation runs in `dir` (its .building-KEY lock is gone). */
async function settled(dir: string): Promise<string[]> {
  for (let i = 0; i < 1200 && files(dir).some((f) => f.startsWith('.building-')); i++)
    await new Promise((r) => setTimeout(r, 100));
  if (files(dir).some((f) => f.startsWith('.building-'))) throw new Error(`${dir}: still building`);
  return files(dir);
}

async function waitForBlob(): Promise<string> {
  // The background build takes two Node runs (the CLI's blob after the hook's, its lock held until both
  // are done); generous for a loaded machine.
  for (let i = 0; i < 1200 && blobs().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  await settled(path.join(root, 'cache'));
  const [blob] = blobs();
  if (!blob) throw new Error('no blob was built');
  return path.join(root, 'cache', blob);
}

test.serial(
  'auto (the default) uses only a folder the package made: none here, nothing written',
  async (t) => {
    const r = await migrateBegin([HOOK], 'auto');
    t.is(r.exitCode, 0, r.stderr);
    t.is(r.stderr, '');
    t.false(existsSync(path.join(root, 'cache')));
  },
);

test.serial(
  'auto on a Node with its own start-up snapshot: a .plain note, no blob; 0 writes nothing',
  async (t) => {
    // The launcher takes /usr/bin/node first: the case needs it to be a Node with a built-in snapshot.
    const own = await execa('/usr/bin/node', ['-p', 'process.config.variables.node_use_node_snapshot']);
    t.is(own.stdout, 'true', "this machine's /usr/bin/node has its own start-up snapshot");
    const plain = await migrateBegin([process.execPath, HOOK_JS], '0');
    t.is(plain.exitCode, 0, plain.stderr);
    const cache = path.join(root, 'auto-cache');
    await mkdir(cache, { mode: 0o700 });

    const off = await migrateBegin([HOOK], '0', cache);
    t.is(off.stdout, plain.stdout);
    t.deepEqual(await settled(cache), [], '0: nothing prepared');

    const first = await migrateBegin([HOOK], 'auto', cache);
    t.is(first.exitCode, 0, first.stderr);
    t.is(first.stdout, plain.stdout);
    const prepared = await settled(cache);
    t.is(prepared.length, 1, prepared.join(' '));
    t.regex(prepared[0] ?? '', /^hook-[\d_-]+\.plain$/);
    const again = await migrateBegin([HOOK], 'auto', cache);
    t.is(again.stdout, plain.stdout);
    t.is(again.stderr, '');
    t.deepEqual(await settled(cache), prepared, 'decided once per Node and hook');

    // The install step decides in the foreground: the note is there when it returns.
    await rm(cache, { recursive: true });
    await mkdir(cache, { mode: 0o700 });
    const built = await buildSnapshot('auto', cache);
    t.is(built.exitCode, 0, built.stderr);
    t.deepEqual(files(cache), prepared);
  },
);

test.serial(
  '--build-snapshot with VIRT_CONSOLELOG_SNAPSHOT=1 builds the blob before it returns',
  async (t) => {
    const cache = path.join(root, 'install-cache');
    const built = await buildSnapshot('1', cache);
    t.is(built.exitCode, 0, built.stderr);
    // Node warns when a snapshot's modules load a builtin it does not support there (node:module...).
    t.is(built.stderr, '', 'Node said nothing about the modules the blobs hold');
    const made = files(cache);
    t.is(made.length, 2, made.join(' '));
    t.regex(made[0] ?? '', /^cli-[\d_-]+\.blob$/, "the CLI's blob beside it");
    t.regex(made[1] ?? '', /^hook-[\d_-]+\.blob$/);
    for (const f of made) t.is(statSync(path.join(cache, f)).mode & 0o777, 0o600);
    // A second install step finds them and leaves them.
    const mtimes = made.map((f) => statSync(path.join(cache, f)).mtimeMs);
    t.is((await buildSnapshot('1', cache)).exitCode, 0);
    t.deepEqual(
      made.map((f) => statSync(path.join(cache, f)).mtimeMs),
      mtimes,
    );
  },
);

test.serial('a build that fails (a full cache folder) is noted once, not retried by every run', async (t) => {
  const plain = await migrateBegin([process.execPath, HOOK_JS], '0');
  // A 1 MiB tmpfs for a blob of several MiB: the build fails with ENOSPC, as on a full /var. The install
  // step builds in the foreground, then a hook run follows in the same full folder.
  const cache = path.join(root, 'full-cache');
  await mkdir(cache, { mode: 0o700 });
  const hook = ['env', '-i', ...Object.entries(await env('1', cache)).map(([k, v]) => `${k}=${v}`), HOOK];
  const script =
    'mount -t tmpfs -o size=1m,mode=0700 none "$0" && xml=$1 && shift && "$@" --build-snapshot && ' +
    'echo @@ && ls -a "$0" && echo @@ && printf %s "$xml" | "$@" demo migrate begin - && echo @@ && ls -a "$0"';
  const r = await execa(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', script, cache, XML, ...hook],
    {
      reject: false,
    },
  );
  t.is(r.exitCode, 0, r.stderr);
  // Node aborts on the short write of the blob (node_snapshotable.cc: "num_written").
  t.regex(r.stderr, /num_written|no space left|ENOSPC/i, 'the build failed for want of space');
  const [, afterBuild = '', xml = '', afterRun = ''] = r.stdout.split('@@\n');
  t.regex(afterBuild, /hook-[\d_-]+\.failed/, 'the failed build left its note');
  t.is(xml, plain.stdout + '\n', 'the hook ran plainly and rewrote the XML');
  t.regex(afterRun, /hook-[\d_-]+\.failed/);
  t.notRegex(afterRun, /\.building-|\.blob/, 'the run after it started no build');
});

test.serial('a build killed half-way (its lock left behind) stops blocking after 10 minutes', async (t) => {
  const cache = path.join(root, 'stale-cache');
  await mkdir(cache, { mode: 0o700 });
  const first = await migrateBegin([HOOK], '1', cache);
  t.is(first.exitCode, 0, first.stderr);
  await settled(cache);
  const [lock] = blobs(cache).map((b) => `.building-${b.slice(5, -5)}`);
  for (const f of files(cache)) await rm(path.join(cache, f), { recursive: true });
  // What a host reboot during the build leaves: the lock folder, no blob.
  await mkdir(path.join(cache, lock ?? ''), { mode: 0o700 });
  const fresh = await migrateBegin([HOOK], '1', cache);
  t.is(fresh.exitCode, 0, fresh.stderr);
  t.deepEqual(files(cache), [lock], 'a recent lock is a build in progress: left alone');
  const old = new Date(Date.now() - 11 * 60_000);
  await utimes(path.join(cache, lock ?? ''), old, old);
  t.is((await migrateBegin([HOOK], '1', cache)).exitCode, 0);
  t.deepEqual(files(cache), [], 'the stale lock is removed');
  t.is((await migrateBegin([HOOK], '1', cache)).exitCode, 0);
  await settled(cache);
  const rebuilt = blobs(cache);
  t.is(rebuilt.length, 1, 'and the next run builds again');
});

test.serial(
  'the snapshot, and a deleted, corrupted or truncated blob, all give the plain hook output',
  async (t) => {
    const plain = await migrateBegin([process.execPath, HOOK_JS], '0');
    t.is(plain.exitCode, 0, plain.stderr);
    t.true(plain.stdout.includes('<domain'), 'the plain hook rewrote the XML');
    t.is(await validate(plain.stdout), undefined);

    // No blob yet: hook.mjs runs, a blob is built for the next runs.
    const first = await migrateBegin([HOOK], '1');
    t.is(first.exitCode, 0, first.stderr);
    t.is(first.stdout, plain.stdout);
    const blob = await waitForBlob();

    const fromBlob = await migrateBegin([HOOK], '1');
    t.is(fromBlob.exitCode, 0, fromBlob.stderr);
    t.is(fromBlob.stdout, plain.stdout);
    t.notRegex(fromBlob.stderr, /did not load/);
    t.true(existsSync(blob), 'a good blob stays');

    // Corrupted in the middle: Node crashes before any JavaScript; the launcher runs hook.mjs.
    const fh = await open(blob, 'r+');
    await fh.write(Buffer.from('corrupted by the test'), 0, 21, Math.floor(statSync(blob).size / 2));
    await fh.close();
    const corrupt = await migrateBegin([HOOK], '1');
    t.is(corrupt.exitCode, 0, corrupt.stderr);
    t.is(corrupt.stdout, plain.stdout);
    t.regex(corrupt.stderr, /did not load/);
    t.false(existsSync(blob), 'the broken blob is removed');

    // Rebuilt by the next run, then truncated.
    const again = await migrateBegin([HOOK], '1');
    t.is(again.stdout, plain.stdout);
    const rebuilt = await waitForBlob();
    await truncate(rebuilt, 1000);
    const truncated = await migrateBegin([HOOK], '1');
    t.is(truncated.exitCode, 0, truncated.stderr);
    t.is(truncated.stdout, plain.stdout);
    t.false(existsSync(rebuilt), 'the truncated blob is removed');
  },
);

test.serial(
  "a cache folder that is a symlink, open to others or not this user's is refused: plain run, nothing written",
  async (t) => {
    const plain = await migrateBegin([process.execPath, HOOK_JS], '0');
    t.is(plain.exitCode, 0, plain.stderr);
    // The blob is code the hook's user (root) runs: a folder anyone else could write must not hold it.
    const target = path.join(root, 'elsewhere');
    await mkdir(target, { mode: 0o700 });
    const link = path.join(root, 'link');
    await symlink(target, link);
    const openDir = path.join(root, 'open');
    await mkdir(openDir);
    await chmod(openDir, 0o755);
    const cases: [string, string][] = [
      ['a symlink', link],
      ['mode 0755', openDir],
    ];
    if (process.getuid?.() === 0) {
      const others = path.join(root, 'others');
      await mkdir(others, { mode: 0o700 });
      await chown(others, 65534, 65534);
      cases.push(["another user's", others]);
    }
    for (const [what, cache] of cases) {
      const r = await migrateBegin([HOOK], '1', cache);
      t.is(r.exitCode, 0, `${what}: ${r.stderr}`);
      t.is(r.stdout, plain.stdout, what);
      t.regex(r.stderr, /snapshot folder .* not used/, what);
    }
    t.deepEqual(readdirSync(target), [], 'nothing written through the symlink');
    t.deepEqual(readdirSync(openDir), []);
  },
);
