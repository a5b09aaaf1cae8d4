// The launcher's V8 snapshot path (VIRT_CONSOLELOG_SNAPSHOT=1, packaging/hook-launcher.sh.in): a missing
// blob is built in the background while hook.mjs runs, a good one gives the same output as hook.mjs, and a
// corrupted, truncated or deleted one still gives a correct hook run (the launcher falls back and removes it).
// The config points every path into a temp folder (VIRT_CONSOLELOG_CONFIG), so no namespace is needed.
import test from 'ava';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { domain, repoRoot, validate } from '../xml/helpers.js';

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

async function env(snapshot: boolean, cache = path.join(root, 'cache')): Promise<Record<string, string>> {
  const conf = path.join(root, 'virt-consolelog.conf');
  await writeFile(
    conf,
    [
      `log_root = "${root}/store"`,
      `live_dir = "${root}/live"`,
      `state_dir = "${root}/state"`,
      'host_name = "hosta"',
      `allowed_roots = [ "${root}/store" ]`,
      'auto_enable = 0',
    ].join('\n') + '\n',
  );
  return {
    LC_ALL: 'C',
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    VIRT_CONSOLELOG_CONFIG: conf,
    VIRT_CONSOLELOG_SNAPSHOT_DIR: cache,
    ...(snapshot ? { VIRT_CONSOLELOG_SNAPSHOT: '1' } : {}),
  };
}

async function migrateBegin(exe: string[], snapshot: boolean, cache?: string) {
  const [file = '', ...pre] = exe;
  return execa(file, [...pre, 'demo', 'migrate', 'begin', '-'], {
    input: XML,
    env: await env(snapshot, cache),
    extendEnv: false,
    reject: false,
  });
}

function blobs(): string[] {
  const dir = path.join(root, 'cache');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.blob')) : [];
}

async function waitForBlob(): Promise<string> {
  // The background build takes one Node run; generous for a loaded machine.
  for (let i = 0; i < 1200 && blobs().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const [blob] = blobs();
  if (!blob) throw new Error('no blob was built');
  return path.join(root, 'cache', blob);
}

test.serial('without VIRT_CONSOLELOG_SNAPSHOT no blob is built', async (t) => {
  const r = await migrateBegin([HOOK], false);
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(blobs(), []);
});

test.serial(
  'the snapshot, and a deleted, corrupted or truncated blob, all give the plain hook output',
  async (t) => {
    const plain = await migrateBegin([process.execPath, HOOK_JS], false);
    t.is(plain.exitCode, 0, plain.stderr);
    t.true(plain.stdout.includes('<domain'), 'the plain hook rewrote the XML');
    t.is(await validate(plain.stdout), undefined);

    // No blob yet: hook.mjs runs, a blob is built for the next runs.
    const first = await migrateBegin([HOOK], true);
    t.is(first.exitCode, 0, first.stderr);
    t.is(first.stdout, plain.stdout);
    const blob = await waitForBlob();

    const fromBlob = await migrateBegin([HOOK], true);
    t.is(fromBlob.exitCode, 0, fromBlob.stderr);
    t.is(fromBlob.stdout, plain.stdout);
    t.notRegex(fromBlob.stderr, /did not load/);
    t.true(existsSync(blob), 'a good blob stays');

    // Corrupted in the middle: Node crashes before any JavaScript; the launcher runs hook.mjs.
    const fh = await open(blob, 'r+');
    await fh.write(Buffer.from('corrupted by the test'), 0, 21, Math.floor(statSync(blob).size / 2));
    await fh.close();
    const corrupt = await migrateBegin([HOOK], true);
    t.is(corrupt.exitCode, 0, corrupt.stderr);
    t.is(corrupt.stdout, plain.stdout);
    t.regex(corrupt.stderr, /did not load/);
    t.false(existsSync(blob), 'the broken blob is removed');

    // Rebuilt by the next run, then truncated.
    const again = await migrateBegin([HOOK], true);
    t.is(again.stdout, plain.stdout);
    const rebuilt = await waitForBlob();
    await truncate(rebuilt, 1000);
    const truncated = await migrateBegin([HOOK], true);
    t.is(truncated.exitCode, 0, truncated.stderr);
    t.is(truncated.stdout, plain.stdout);
    t.false(existsSync(rebuilt), 'the truncated blob is removed');
  },
);

test.serial(
  "a cache folder that is a symlink, open to others or not this user's is refused: plain run, nothing written",
  async (t) => {
    const plain = await migrateBegin([process.execPath, HOOK_JS], false);
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
      const r = await migrateBegin([HOOK], true, cache);
      t.is(r.exitCode, 0, `${what}: ${r.stderr}`);
      t.is(r.stdout, plain.stdout, what);
      t.regex(r.stderr, /snapshot folder .* not used/, what);
    }
    t.deepEqual(readdirSync(target), [], 'nothing written through the symlink');
    t.deepEqual(readdirSync(openDir), []);
  },
);
