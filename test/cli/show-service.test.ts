// `show` answered by the capture service (src/cli/show-service.ts): which runs it takes, and the command's
// launcher (dist/virt-consolelog, packaging/ask-service.sh) handing them over: byte for byte what the
// command prints itself, the same exit code and message, and the command running itself whenever the
// service declines, is not there, does not take the request in time, or finds the output too big.
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { HookServer } from '../../src/hook-server/server.js';
import {
  SERVED_MAX_BYTES,
  SERVED_MAX_LINES,
  serveShow,
  showAnswerer,
  whyShowNotServed,
} from '../../src/cli/show-service.js';
import { repoRoot } from '../xml/helpers.js';
import { UUID } from '../lifecycle/helpers.js';
import { store } from './show-store.js';

const CLI = path.join(repoRoot, 'dist/virt-consolelog');

const served = (...argv: string[]) => whyShowNotServed(argv, {}, {});

test('bounded reads are answered: -n, -c, --list-boots, with the options that shape them', (t) => {
  for (const argv of [
    ['show', '-n', '1000', 'g'],
    ['show', 'g', '-c', '102400'],
    ['show', '--list-boots', 'g'],
    ['show', '-n', String(SERVED_MAX_LINES), '-o', 'json', '-b', '-1', '--device', 'console0', 'g'],
    ['show', '-c', String(SERVED_MAX_BYTES), '--since', '-2h', '--config', '/etc/x.conf', 'g'],
    ['show', '-rn', '5', '--no-hostname', '-o', 'short-iso', 'g'],
  ])
    t.is(served(...argv), undefined, argv.join(' '));
});

test('reads that may be long, follow, or differ in the service are left to the command', (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['show', 'g'], /neither -n/],
    [['show', '-b', 'g'], /neither -n/],
    [['show', '-n', String(SERVED_MAX_LINES + 1), 'g'], /neither -n/],
    [['show', '-c', String(SERVED_MAX_BYTES + 1), 'g'], /neither -n/],
    [['show', '-f', 'g'], /--follow/],
    [['show', '--all', '-n', '5'], /--all/],
    [['show', '-n', '5', '-g', 'x', 'g'], /--grep/],
    [['show', '--help'], /--help/],
    [['show', '-n', '5', '--config', 'rel.conf', 'g'], /relative --config/],
    [['show', '-n', 'x', 'g'], /bad command line/],
    [['show', '--bogus', 'g'], /bad command line/],
    [['status', 'g'], /not a show/],
    [[], /not a show/],
  ];
  for (const [argv, why] of cases) t.regex(served(...argv) ?? '', why, argv.join(' '));
  const argv = ['show', '-n', '5', 'g'];
  t.regex(whyShowNotServed(argv, { TZ: 'Asia/Tokyo' }, {}) ?? '', /another TZ/);
  t.is(whyShowNotServed(argv, { TZ: 'UTC' }, { TZ: 'UTC' }), undefined);
  t.regex(whyShowNotServed(argv, { VIRT_CONSOLELOG_CONFIG: 'a.conf' }, {}) ?? '', /relative/);
  t.regex(whyShowNotServed(argv, { VIRT_CONSOLELOG_VIRTLOGD_CONF: '/x' }, {}) ?? '', /VIRTLOGD/);
});

let root = '';
let storeEnv: NodeJS.ProcessEnv = {};
test.before(async () => {
  if (!existsSync(CLI)) throw new Error('dist/virt-consolelog is missing: run `npm run build` first');
  root = await mkdtemp(path.join(tmpdir(), 'vcl-show-service-'));
  storeEnv = (await store(40)).env;
});
test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** The command as a user runs it into a pipe, with the service folder `server` (0: none). */
function command(server: string, args: string[], extra: Record<string, string> = {}) {
  return execa(CLI, args, {
    env: {
      LC_ALL: 'C',
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      VIRT_CONSOLELOG_CONFIG: String(storeEnv.VIRT_CONSOLELOG_CONFIG),
      VIRT_CONSOLELOG_SNAPSHOT: '0',
      VIRT_CONSOLELOG_HOOK_SERVER: server,
      ...extra,
    },
    extendEnv: false,
    reject: false,
    encoding: 'buffer',
  });
}

async function folder(name: string): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** Only the service's own two files are left once the launcher is done and the service cleaned up. */
async function onlyServiceFiles(dir: string): Promise<string[]> {
  const left = () => readdirSync(dir).filter((f) => f !== 'pid' && f !== 'requests');
  for (let i = 0; i < 200 && left().length; i++) await new Promise((r) => setTimeout(r, 25));
  return left();
}

const READS: string[][] = [
  ['show', '-c', '100', UUID],
  ['show', '-n', '7', 'guest1'],
  ['show', '-n', '12', '-o', 'json', UUID],
  ['show', '--list-boots', 'guest1'],
  ['show', '-n', '3', '-b', '1', 'guest1'],
  ['show', '-n', '5', 'no-such-guest'],
];

test.serial(
  'the service answers bounded reads exactly as the command, exit codes and messages too',
  async (t) => {
    const dir = await folder('srv-show');
    const server = await HookServer.start({ dir, log: () => undefined, command: showAnswerer });
    if (!server) return t.fail('the service did not start');
    try {
      for (const args of READS) {
        const own = await command('0', args);
        const before = server.commandsAnswered;
        const r = await command(dir, args);
        t.is(server.commandsAnswered, before + 1, `answered by the service: ${args.join(' ')}`);
        t.is(r.exitCode, own.exitCode, args.join(' '));
        t.true(Buffer.compare(r.stdout, own.stdout) === 0, `stdout of ${args.join(' ')}`);
        t.is(String(r.stderr), String(own.stderr), args.join(' '));
      }
      t.is((await command(dir, ['show', '-n', '5', 'no-such-guest'])).exitCode, 3, 'unknown domain: 3');
      // Left to the command: the whole history, and a --grep; the same output, the service answers none.
      const before = server.commandsAnswered;
      for (const args of [
        ['show', 'guest1'],
        ['show', '-n', '4', '-g', 'line 1', 'guest1'],
      ]) {
        const own = await command('0', args);
        const r = await command(dir, args);
        t.is(r.exitCode, 0, String(r.stderr));
        t.true(Buffer.compare(r.stdout, own.stdout) === 0, `stdout of ${args.join(' ')}`);
      }
      t.is(server.commandsAnswered, before, 'declined reads run in the command');
      t.is(server.answered, 0, 'no hook event counted');
      t.deepEqual(await onlyServiceFiles(dir), []);
    } finally {
      await server.close();
    }
  },
);

test.serial('on a terminal the command runs itself (it pages and colours there)', async (t) => {
  const dir = await folder('srv-tty');
  const server = await HookServer.start({ dir, log: () => undefined, command: showAnswerer });
  if (!server) return t.fail('the service did not start');
  try {
    // script(1) (util-linux) gives the command a terminal; --no-pager keeps less out of it.
    const r = await execa('script', ['-qec', `${CLI} show --no-pager -n 3 guest1`, '/dev/null'], {
      env: {
        LC_ALL: 'C',
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        TERM: 'dumb',
        VIRT_CONSOLELOG_CONFIG: String(storeEnv.VIRT_CONSOLELOG_CONFIG),
        VIRT_CONSOLELOG_HOOK_SERVER: dir,
      },
      extendEnv: false,
      reject: false,
    });
    t.is(r.exitCode, 0, r.stderr);
    t.regex(r.stdout, /boot2 line 39/);
    t.is(server.commandsAnswered, 0, 'not handed to the service');
    // The same read into a pipe is answered.
    await command(dir, ['show', '-n', '3', 'guest1']);
    t.is(server.commandsAnswered, 1);
  } finally {
    await server.close();
  }
});

test.serial('output past the bound: the service stops reading and the command prints it all', async (t) => {
  const dir = await folder('srv-small');
  const server = await HookServer.start({
    dir,
    log: () => undefined,
    command: { ...showAnswerer, run: (argv, env) => serveShow(argv, env, 64) },
  });
  if (!server) return t.fail('the service did not start');
  try {
    const args = ['show', '-n', '30', 'guest1'];
    const own = await command('0', args);
    t.true(own.stdout.length > 64);
    const r = await command(dir, args);
    t.is(r.exitCode, 0, String(r.stderr));
    t.true(Buffer.compare(r.stdout, own.stdout) === 0);
    t.is(String(r.stderr), '');
    t.is(server.commandsAnswered, 0);
    t.deepEqual(await onlyServiceFiles(dir), []);
  } finally {
    await server.close();
  }
});

test.serial('no service, or one that never takes the request: the command prints the same', async (t) => {
  const args = ['show', '-c', '200', 'guest1'];
  const own = await command('0', args);
  t.is(own.exitCode, 0, String(own.stderr));
  const none = await command(path.join(root, 'no-such-folder'), args);
  t.true(Buffer.compare(none.stdout, own.stdout) === 0);
  const dir = await folder('srv-deaf');
  await execa('mkfifo', ['-m', '600', path.join(dir, 'requests')]);
  const sleeper = execa('sleep', ['600']); // a live pid that reads nothing
  await writeFile(path.join(dir, 'pid'), `${sleeper.pid}\n`);
  try {
    const r = await command(dir, args, { VIRT_CONSOLELOG_HOOK_SERVER_WAIT: '1' });
    t.is(r.exitCode, 0, String(r.stderr));
    t.true(Buffer.compare(r.stdout, own.stdout) === 0);
    t.deepEqual(await onlyServiceFiles(dir), [], 'the launcher removed its files');
  } finally {
    sleeper.kill();
    await sleeper.catch(() => undefined);
  }
});
