// The hook's launcher (dist/virt-consolelog-hook, as libvirt runs it: argv, XML on stdin, minimal
// environment) handing its events to the capture service: the same output and store as a Node run,
// exactly one of the two running each event, and Node taking over whenever the service is not there,
// does not take the event in time, or is refused. Paths all in a temp folder (VIRT_CONSOLELOG_CONFIG).
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { domain, repoRoot, validate } from '../xml/helpers.js';
import { writeFolderConfig } from '../lifecycle/helpers.js';
import { HookServer } from '../../src/hook-server/server.js';
import { SERVICE_NOTE as NOTE, type HookIO } from '../../src/lifecycle/run.js';

const HOOK = path.join(repoRoot, 'dist/virt-consolelog-hook');
const CLI_JS = path.join(repoRoot, 'dist/virt-consolelog.mjs');

const XML = domain(
  "<serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>" +
    "<console type='pty'><target type='serial' port='0'/></console>",
);

let root = '';
let conf = '';
test.before(async () => {
  if (!existsSync(HOOK)) throw new Error('dist/virt-consolelog-hook is missing: run `npm run build` first');
  root = await mkdtemp(path.join(tmpdir(), 'vcl-hook-server-'));
  for (const d of ['store', 'live', 'state']) await mkdir(path.join(root, d));
  conf = await writeFolderConfig(root);
});
test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** libvirt's minimal environment, the test's config, and the service folder (0: none). */
function env(server: string, wait?: number): Record<string, string> {
  return {
    LC_ALL: 'C',
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    VIRT_CONSOLELOG_CONFIG: conf,
    VIRT_CONSOLELOG_SNAPSHOT: '0',
    VIRT_CONSOLELOG_HOOK_SERVER: server,
    ...(wait !== undefined ? { VIRT_CONSOLELOG_HOOK_SERVER_WAIT: String(wait) } : {}),
  };
}

function runHookLauncher(server: string, argv: string[], input = XML, wait?: number) {
  return execa(HOOK, argv, { input, env: env(server, wait), extendEnv: false, reject: false });
}

/** Journal entries of hook runs (state_dir/journal.log), oldest first. */
function journal(): Array<{ domain: string; op: string; pid: number; notes: string[] }> {
  const file = path.join(root, 'state/journal.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { domain: string; op: string; pid: number; notes: string[] });
}

const lastRun = (name: string) =>
  journal()
    .filter((e) => e.domain === name)
    .pop();

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!ok()) throw new Error(`gave up waiting: ${what}`);
}

async function folder(name: string): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** Whether a `sleep SECONDS` process runs on this machine. */
function sleeping(seconds: string): boolean {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .some((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${seconds}\0`;
      } catch {
        return false;
      }
    });
}

/** Only the service's own two files are left once every launcher is done. */
const leftovers = (dir: string) => readdirSync(dir).filter((f) => f !== 'pid' && f !== 'requests');

/** The service removes a request's files just after its reply, so they can outlive the launcher briefly. */
const answeredFilesGone = (dir: string) =>
  until('the service removes the files of the requests it answered', () => leftovers(dir).length === 0);

test.serial(
  'collect answers migrate begin: the XML Node prints, no Node started, journal says so',
  async (t) => {
    const dir = path.join(root, 'srv-collect');
    const collect: ResultPromise = execa(process.execPath, [CLI_JS, 'collect'], {
      env: { ...env(dir), HOME: '/root' },
      extendEnv: false,
      reject: false,
    });
    try {
      await until('the service listens', () => existsSync(path.join(dir, 'pid')));
      const plain = await runHookLauncher('0', ['plain', 'migrate', 'begin', '-']);
      t.is(plain.exitCode, 0, plain.stderr);
      t.notRegex(plain.stdout, /^$/);
      t.false(lastRun('plain')?.notes.includes(NOTE));

      const served = await runHookLauncher(dir, ['plain', 'migrate', 'begin', '-']);
      t.is(served.exitCode, 0, served.stderr);
      t.is(served.stderr, '');
      t.is(served.stdout, plain.stdout);
      t.is(await validate(served.stdout), undefined);
      const run = lastRun('plain');
      t.true(run?.notes.includes(NOTE), JSON.stringify(run));
      t.is(run?.pid, collect.pid, 'run inside the collect process');
      // prepare takes the domain lock: proper-lockfile, loaded now, must not turn SIGTERM into a kill.
      const prepared = await runHookLauncher(dir, ['plain', 'prepare', 'begin', '-']);
      t.is(prepared.exitCode, 0, prepared.stderr);
      t.is(lastRun('plain')?.pid, collect.pid);
      await answeredFilesGone(dir);
      t.deepEqual(leftovers(dir), []);
    } finally {
      collect.kill('SIGTERM');
      const done = await collect;
      t.regex(String(done.stderr), /answering hook events in /);
      t.is(done.exitCode, 0, `stopped cleanly, not by the signal (${String(done.signal)})`);
    }
    t.false(existsSync(path.join(dir, 'requests')), 'the FIFO goes with the service');
    t.false(existsSync(path.join(dir, 'pid')));
    // Service gone: Node runs the event again.
    const after = await runHookLauncher(dir, ['gone', 'migrate', 'begin', '-']);
    t.is(after.exitCode, 0, after.stderr);
    t.false(lastRun('gone')?.notes.includes(NOTE));
  },
);

test.serial('events run in the service: prepare, release and restore, many at once, each once', async (t) => {
  const dir = await folder('srv-many');
  const server = await HookServer.start({ dir, log: () => undefined });
  if (!server) return t.fail('the service did not start');
  try {
    const plain = await runHookLauncher('0', ['one', 'restore', 'begin', '-']);
    const names = Array.from({ length: 24 }, (_, i) => `guest-${i}`);
    const results = await Promise.all(
      names.flatMap((n) => [
        runHookLauncher(dir, [n, 'restore', 'begin', '-']),
        runHookLauncher(dir, [n, 'prepare', 'begin', '-']),
      ]),
    );
    for (const r of results) t.is(r.exitCode, 0, r.stderr);
    const restores = results.filter((_, i) => i % 2 === 0);
    for (const r of restores) t.is(r.stdout, plain.stdout);
    const release = await runHookLauncher(dir, ['guest-0', 'release', 'end', '-']);
    t.is(release.exitCode, 0, release.stderr);
    t.is(server.answered, names.length * 2 + 1);
    const runs = journal().filter((e) => names.includes(e.domain));
    t.is(runs.length, names.length * 2 + 1, 'each event once');
    t.true(runs.every((e) => e.notes.includes(NOTE) && e.pid === process.pid));
    await answeredFilesGone(dir);
    t.deepEqual(leftovers(dir), []);
  } finally {
    await server.close();
  }
});

test.serial('the launcher returns once answered: no process of it keeps libvirt stdout open', async (t) => {
  const dir = await folder('srv-return');
  const server = await HookServer.start({ dir, log: () => undefined });
  try {
    // With a watchdog of an hour, a leaked copy of stdout would hold execa (and the test) for that hour.
    const wait = 3600 + (process.pid % 1000); // a sleep of this length is the watchdog's own
    const r = await runHookLauncher(dir, ['quick', 'migrate', 'begin', '-'], XML, wait);
    t.is(r.exitCode, 0, r.stderr);
    t.true(lastRun('quick')?.notes.includes(NOTE));
    // Nor does the watchdog's sleep linger once the event is answered.
    await until('no watchdog sleep left', () => !sleeping(String(wait)));
    t.pass();
  } finally {
    await server?.close();
  }
});

test.serial('a service that never takes the event loses it to Node, which reads the saved XML', async (t) => {
  const dir = await folder('srv-deaf');
  await execa('mkfifo', ['-m', '600', path.join(dir, 'requests')]);
  // A live pid that reads nothing: the request line waits in the FIFO until the watchdog fires.
  const sleeper = execa('sleep', ['600']);
  await writeFile(path.join(dir, 'pid'), `${sleeper.pid}\n`);
  try {
    const plain = await runHookLauncher('0', ['deaf', 'migrate', 'begin', '-']);
    const r = await runHookLauncher(dir, ['deaf', 'migrate', 'begin', '-'], XML, 1);
    t.is(r.exitCode, 0, r.stderr);
    t.is(r.stdout, plain.stdout);
    t.false(lastRun('deaf')?.notes.includes(NOTE));
    t.deepEqual(leftovers(dir), [], 'the launcher removed its request files');
  } finally {
    sleeper.kill();
    await sleeper.catch(() => undefined);
  }
});

test.serial(
  'no FIFO, a dead pid, a foreign pid file, a symlinked or open folder: Node runs at once',
  async (t) => {
    const plain = await runHookLauncher('0', ['none', 'migrate', 'begin', '-']);
    const dead = await folder('srv-dead');
    await execa('mkfifo', ['-m', '600', path.join(dead, 'requests')]);
    const gone = execa('true');
    const gonePid = gone.pid;
    await gone;
    await writeFile(path.join(dead, 'pid'), `${gonePid}\n`);
    const real = await folder('srv-real');
    const link = path.join(root, 'srv-link');
    await symlink(real, link);
    const open = await folder('srv-open');
    await chmod(open, 0o777);
    // A service folder whose pid file another user could have written is not the service's.
    const foreign = await folder('srv-foreign');
    await execa('mkfifo', ['-m', '600', path.join(foreign, 'requests')]);
    await writeFile(path.join(foreign, 'pid'), `${process.pid}\n`);
    await chown(path.join(foreign, 'pid'), 65534, 65534);
    for (const dir of [path.join(root, 'srv-missing'), dead, foreign]) {
      // Wait 3600: had the launcher asked, it would wait for its watchdog and time the test out.
      const r = await runHookLauncher(dir, ['none', 'migrate', 'begin', '-'], XML, 3600);
      t.is(r.stdout, plain.stdout, dir);
      t.deepEqual(existsSync(dir) ? leftovers(dir) : [], [], dir);
    }
    t.is(await HookServer.start({ dir: link, log: () => undefined }), undefined, 'a symlink is refused');
    const logged: string[] = [];
    t.is(await HookServer.start({ dir: open, log: (m) => logged.push(m) }), undefined, 'so is mode 0777');
    t.regex(logged.join('\n'), /not a folder of this user with mode 0700/);
    t.false(existsSync(path.join(real, 'requests')));
  },
);

test.serial('a second service does not answer where one already does', async (t) => {
  const dir = await folder('srv-twice');
  const first = await HookServer.start({ dir, log: () => undefined });
  const child = execa(process.execPath, [CLI_JS, 'collect'], {
    env: { ...env(dir), HOME: '/root' },
    extendEnv: false,
    reject: false,
  });
  let said = '';
  child.stderr?.on('data', (c: Buffer) => (said += String(c)));
  try {
    await until('the second collect says who answers', () => said.includes('answers them in'));
    child.kill('SIGTERM');
    await child;
    t.regex(said, new RegExp(`process ${process.pid} answers them in`));
    t.is(readFileSync(path.join(dir, 'pid'), 'utf8').trim(), String(process.pid));
    const r = await runHookLauncher(dir, ['twice', 'prepare', 'begin', '-']);
    t.is(r.exitCode, 0, r.stderr);
    t.is(lastRun('twice')?.pid, process.pid);
  } finally {
    await first?.close();
  }
});

test.serial('lines that are not a launcher pid are ignored; the next event is answered', async (t) => {
  const dir = await folder('srv-hostile');
  const logged: string[] = [];
  const server = await HookServer.start({ dir, log: (m) => logged.push(m) });
  try {
    const requests = path.join(dir, 'requests');
    // Not pids, and a pid with no request files (its reply FIFO does not exist: given up at once).
    await writeFile(requests, '../../etc/passwd\n12ab\n\n99999999\n', { flag: 'a' });
    const r = await runHookLauncher(dir, ['after', 'migrate', 'begin', '-']);
    t.is(r.exitCode, 0, r.stderr);
    t.true(lastRun('after')?.notes.includes(NOTE));
    t.regex(logged.join('\n'), /ignored a line that is not a pid \("\.\.\/\.\.\/etc\/passwd"\)/);
    await answeredFilesGone(dir);
    t.deepEqual(leftovers(dir), []);
  } finally {
    await server?.close();
  }
});

test.serial('the service ends during an event it took: Node runs the event again', async (t) => {
  const dir = await folder('srv-killed');
  const started = path.join(root, 'killed-started');
  // A service in its own process whose event never ends, killed while the launcher waits.
  const script = [
    `import { HookServer } from ${JSON.stringify(path.join(repoRoot, 'src/hook-server/server.ts'))};`,
    "import { writeFileSync } from 'node:fs';",
    `await HookServer.start({ dir: ${JSON.stringify(dir)}, log: () => undefined,`,
    `  run: () => { writeFileSync(${JSON.stringify(started)}, ''); return new Promise(() => undefined); } });`,
  ].join('\n');
  const service = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    reject: false,
  });
  await until('the service listens', () => existsSync(path.join(dir, 'pid')));
  const plain = await runHookLauncher('0', ['killed', 'migrate', 'begin', '-']);
  const launcher = runHookLauncher(dir, ['killed', 'migrate', 'begin', '-']);
  await until('the event runs', () => existsSync(started));
  service.kill('SIGKILL');
  const r = await launcher;
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout, plain.stdout, 'the XML saved for the service went to Node');
  t.false(lastRun('killed')?.notes.includes(NOTE));
  t.deepEqual(leftovers(dir), []);
  await service;
});

test.serial('a service restarted while launchers wait answers them', async (t) => {
  const dir = await folder('srv-restart');
  await execa('mkfifo', ['-m', '600', path.join(dir, 'requests')]);
  // A service that reads nothing (a live pid), then a real one started while the launcher waits.
  const sleeper = execa('sleep', ['600']);
  await writeFile(path.join(dir, 'pid'), `${sleeper.pid}\n`);
  const launcher = runHookLauncher(dir, ['waiting', 'migrate', 'begin', '-'], XML, 3600);
  await until('the launcher asked', () => readdirSync(dir).some((f) => f.endsWith('.stdin')));
  sleeper.kill();
  await sleeper.catch(() => undefined);
  const server = await HookServer.start({ dir, log: () => undefined });
  try {
    const r = await launcher;
    t.is(r.exitCode, 0, r.stderr);
    t.true(lastRun('waiting')?.notes.includes(NOTE));
    t.is(server?.answered, 1);
  } finally {
    await server?.close();
  }
});

test('runHook gets what libvirt gave the launcher', async (t) => {
  const dir = await folder('srv-io');
  let seen:
    { argv: readonly string[]; stdin: string; env: NodeJS.ProcessEnv; resident?: boolean } | undefined;
  const server = await HookServer.start({
    dir,
    log: () => undefined,
    run: async (io: HookIO) => {
      let stdin = '';
      for await (const c of io.stdin) stdin += String(c);
      seen = { argv: io.argv, stdin, env: io.env, resident: io.resident };
      io.stdout.write('out\n');
      io.stderr.write('err\n');
      return 3;
    },
  });
  try {
    const name = "a guest's name with spaces\tand a tab";
    const r = await runHookLauncher(dir, [name, 'release', 'end', '-'], 'x'.repeat(200_000));
    t.is(r.exitCode, 3);
    t.is(r.stdout, 'out');
    t.is(r.stderr, 'err');
    t.deepEqual(seen?.argv, [name, 'release', 'end', '-']);
    t.is(seen?.stdin.length, 200_000);
    t.is(seen?.env.VIRT_CONSOLELOG_CONFIG, conf);
    t.is(seen?.env.PATH, '/usr/sbin:/usr/bin:/sbin:/bin');
    t.true(seen?.resident);
  } finally {
    await server?.close();
  }
});
