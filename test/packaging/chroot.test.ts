// The .deb on a clean Debian 12 root (debootstrap, Debian's own nodejs through apt): install, the
// hook and the CLI at work there, upgrade, remove and purge, exactly as an operator would run them.
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../lab/scenario.js';
import { ensurePackages, REPO_ROOT, run, VERSION } from './packages.js';

const UUID = '3b0f8d5e-2c1a-4d7e-9f60-1a2b3c4d5e6f';
const LEGACY_SERIAL = '/var/log/libvirt/qemu/g1-serial0.log';
/** A guest's live file (live_dir) and one of its sealed segments, as the operator's logs to keep. */
const LIVE_FILE = `var/log/libvirt/qemu/${UUID}.serial0.console`;
const SEALED_FILE = `var/log/libvirt/consolelog/${UUID}/archive/000000-00000001-host1.seg`;
const DOMAIN_XML = `<domain type='qemu'>
  <name>g1</name>
  <uuid>${UUID}</uuid>
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='pty'>
      <target port='0'/>
    </serial>
    <serial type='file'>
      <source path='${LEGACY_SERIAL}'/>
      <target port='1'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>
`;
const ADMIN_HOOK = "#!/bin/sh\n# the operator's own qemu hook: the package must never touch it\nexit 0\n";

let root: string;
let work: string;
let deb: string;
let fakeDaemon: ResultPromise | undefined;
let mounted = false;

const inRoot = (p: string) => join(root, p);
/** Runs argv inside the chroot with libvirt's minimal hook environment (docs/LIBVIRT-FACTS.md). */
function chroot(argv: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  return execa('chroot', [root, ...argv], {
    reject: false,
    extendEnv: false,
    env: { LC_ALL: 'C', PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...opts.env },
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
  });
}
/** dpkg in the root (faster than apt once apt has shown that the dependencies resolve). */
async function dpkg(args: string[], env: Record<string, string> = {}) {
  const r = await chroot(['dpkg', ...args], { env: { DEBIAN_FRONTEND: 'noninteractive', ...env } });
  if (r.exitCode !== 0) throw new Error(`dpkg ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}
async function apt(args: string[], env: Record<string, string> = {}) {
  const r = await chroot(['apt-get', '-y', '-q', '--no-install-recommends', ...args], {
    env: { DEBIAN_FRONTEND: 'noninteractive', ...env },
  });
  if (r.exitCode !== 0) throw new Error(`apt-get ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}
const mode = (p: string) => statSync(inRoot(p)).mode & 0o7777;
const LAUNCHER = '/etc/libvirt/hooks/qemu.d/50-virt-consolelog';
const hook = (argv: string[], input = DOMAIN_XML, env: Record<string, string> = {}) =>
  chroot([LAUNCHER, ...argv], { input, env });
const CACHE = 'var/cache/virt-consolelog';
/** The snapshot forced on, and off (a plain start: the reference output). */
const FORCED = { VIRT_CONSOLELOG_SNAPSHOT: '1' };
const PLAIN = { VIRT_CONSOLELOG_SNAPSHOT: '0' };
/** The hook's (or the CLI's) snapshot blobs in the installed cache folder (their names carry Node's and the code's identity). */
const blobs = (of = 'hook-') =>
  readdirSync(inRoot(CACHE)).filter((f) => f.startsWith(of) && f.endsWith('.blob'));
/** Waits for the background build of a blob to finish (blob in place, build marker gone). */
const builtBlob = () =>
  waitFor(
    'the hook snapshot blob',
    () => {
      const [blob] = blobs();
      return blob && !readdirSync(inRoot(CACHE)).some((f) => f.startsWith('.building-')) ? blob : undefined;
    },
    { timeoutMs: 180_000 },
  );

test.before(async () => {
  ({ deb } = await ensurePackages());
  const base = (await run('sh', [join(REPO_ROOT, 'test/packaging/bookworm-root.sh')])).trim();
  work = mkdtempSync(join(tmpdir(), 'vcl-chroot-'));
  root = join(work, 'root');
  for (const d of ['root', 'upper', 'overlay-work']) mkdirSync(join(work, d));
  // The cached clean root stays untouched: every run writes into its own overlay layer.
  await run('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=${base},upperdir=${join(work, 'upper')},workdir=${join(work, 'overlay-work')}`,
    root,
  ]);
  mounted = true;
  await run('mount', ['-t', 'proc', 'proc', inRoot('proc')]);
  copyFileSync(deb, inRoot('tmp/virt-consolelog.deb'));
});

test.after.always(async () => {
  fakeDaemon?.kill('SIGKILL');
  if (mounted) {
    await execa('umount', [inRoot('proc')], { reject: false });
    await execa('umount', [root], { reject: false });
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test.serial('the root is a clean Debian 12 with Debian nodejs >= 18.19 and no virt-consolelog', async (t) => {
  t.regex(readFileSync(inRoot('etc/debian_version'), 'utf8'), /^12\./);
  const node = await chroot(['dpkg-query', '-W', '-f', '${Version}', 'nodejs']);
  t.regex(node.stdout, /^18\.(19|[2-9]\d)\.\d+\+dfsg/, "Debian's own nodejs package");
  t.false(existsSync(inRoot('usr/lib/virt-consolelog')));
});

test.serial(
  'apt installs it: files in place, key created, running libvirtd reloaded (SIGHUP), main qemu hook untouched',
  async (t) => {
    mkdirSync(inRoot('etc/libvirt/hooks'), { recursive: true });
    writeFileSync(inRoot('etc/libvirt/hooks/qemu'), ADMIN_HOOK, { mode: 0o755 });
    const before = statSync(inRoot('etc/libvirt/hooks/qemu'));
    // A "libvirtd" (its process name is what the pid file check compares) that records SIGHUPs.
    const hups = join(work, 'hups');
    const daemon = join(work, 'libvirtd');
    const ready = join(work, 'ready');
    writeFileSync(
      daemon,
      `#!/bin/sh\ntrap 'echo hup >> ${hups}' HUP\n: > ${ready}\nwhile :; do sleep 0.1; done\n`,
      { mode: 0o755 },
    );
    fakeDaemon = execa(daemon, [], { reject: false, stdio: 'ignore' });
    // A SIGHUP before its trap is set would end it: wait until it says it is ready.
    await waitFor('the fake libvirtd to trap SIGHUP', () => existsSync(ready), { timeoutMs: 10_000 });
    writeFileSync(inRoot('run/libvirtd.pid'), `${fakeDaemon.pid}\n`);

    const out = await apt(['install', '/tmp/virt-consolelog.deb']);
    t.regex(out, /reloaded libvirtd \(pid \d+, SIGHUP\)/);

    for (const f of [
      'usr/lib/virt-consolelog/hook.mjs',
      'usr/lib/virt-consolelog/virt-consolelog.mjs',
      'etc/virt-consolelog/virt-consolelog.conf',
      'etc/default/virt-consolelog',
      'usr/lib/tmpfiles.d/virt-consolelog.conf',
      'usr/share/man/man8/virt-consolelog.8.gz',
      'usr/share/bash-completion/completions/virt-consolelog',
    ])
      t.true(existsSync(inRoot(f)), f);
    t.is(mode('etc/libvirt/hooks/qemu.d/50-virt-consolelog'), 0o755);

    const after = statSync(inRoot('etc/libvirt/hooks/qemu'));
    t.is(readFileSync(inRoot('etc/libvirt/hooks/qemu'), 'utf8'), ADMIN_HOOK);
    t.is(after.mtimeMs, before.mtimeMs);
    t.is(after.ino, before.ino);

    // The reading group's store: root:virt-consolelog, setgid (README "Reading without root").
    t.is(mode('var/log/libvirt/consolelog'), 0o2750);
    t.is(
      String((await chroot(['stat', '-c', '%G', '/var/log/libvirt/consolelog'])).stdout).trim(),
      'virt-consolelog',
    );
    t.is(mode('var/lib/virt-consolelog'), 0o700);
    t.is(mode('var/lib/virt-consolelog/ssh'), 0o700);
    t.is(mode('var/lib/virt-consolelog/ssh/id_ed25519'), 0o600);
    t.regex(
      readFileSync(inRoot('var/lib/virt-consolelog/ssh/id_ed25519.pub'), 'utf8'),
      /^ssh-ed25519 \S+ virt-consolelog@/,
    );

    // Reloaded, not restarted: the same process got SIGHUP and still runs.
    await waitFor('the SIGHUP', () => existsSync(hups), { timeoutMs: 5000 }).catch(() => undefined);
    t.regex(readFileSync(hups, 'utf8'), /^hup\n/);
    t.is(fakeDaemon.exitCode, null, 'still running');
    t.regex(
      readFileSync(inRoot('var/lib/virt-consolelog/reloaded-libvirtd'), 'utf8'),
      new RegExp(`^${fakeDaemon.pid} \\d+\\n$`),
    );
  },
);

test.serial("the CLI runs on Debian's Node: --version, --help, man page", async (t) => {
  const v = await chroot(['virt-consolelog', '--version']);
  t.is(v.exitCode, 0, v.stderr);
  t.is(v.stdout.trim(), `virt-consolelog ${VERSION}`);
  const help = await chroot(['virt-consolelog', '--help']);
  t.regex(help.stdout, /^ {2}doctor /m);
  const man = await run('sh', ['-c', `zcat ${inRoot('usr/share/man/man8/virt-consolelog.8.gz')}`]);
  t.regex(man, /^\.TH VIRT-CONSOLELOG 8 /m);
  t.regex(man, /^\.SS doctor$/m, 'commands come from the CLI help');
});

test.serial(
  'the installed hook: reconnect begin passes at once, migrate begin rewrites the XML',
  async (t) => {
    const reconnect = await hook(['g1', 'reconnect', 'begin', '-']);
    t.is(reconnect.exitCode, 0);
    t.is(reconnect.stdout, '');
    t.is(reconnect.stderr, '');

    const migrate = await hook(['g1', 'migrate', 'begin', '-']);
    t.is(migrate.exitCode, 0, migrate.stderr);
    const xml = migrate.stdout;
    t.regex(xml, new RegExp(`<log file='/var/log/libvirt/qemu/${UUID}\\.serial0\\.console' append='on'/>`));
    // The file serial became interactive and keeps its history where it was (in the allowed roots).
    t.notRegex(xml, /<serial type='file'>/);
    t.regex(
      xml,
      new RegExp(`<serial type='pty'>\\s*<log file='${LEGACY_SERIAL}' append='on'/>\\s*<target port='1'/>`),
    );
    const file = join(work, 'migrated.xml');
    writeFileSync(file, xml);
    await t.notThrowsAsync(run('virt-xml-validate', [file, 'domain']));
  },
);

test.serial(
  "virt-consolelog show on Debian's Node starts from the blob the install built; same output, a broken blob too",
  async (t) => {
    // A boot of g1 logged by the installed hook, then some guest output in its live log.
    const migrated = await hook(['g1', 'migrate', 'begin', '-']);
    t.is((await hook(['g1', 'prepare', 'begin', '-'], migrated.stdout)).exitCode, 0);
    appendFileSync(
      inRoot(`var/log/libvirt/qemu/${UUID}.serial0.console`),
      Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(''),
    );
    const [cliBlob] = blobs('cli-');
    t.truthy(cliBlob, "the install built the command's blob");
    const show = (args: string[], env: Record<string, string> = {}) =>
      chroot(['sh', '-x', '/usr/bin/virt-consolelog', 'show', ...args, 'g1'], { env });
    for (const args of [[], ['-n', '3'], ['-c', '20'], ['-o', 'json']]) {
      const plain = await show(args, PLAIN);
      t.is(plain.exitCode, 0, plain.stderr);
      t.notRegex(plain.stderr, /--snapshot-blob/);
      const fromBlob = await show(args);
      t.is(fromBlob.exitCode, 0, fromBlob.stderr);
      t.regex(
        fromBlob.stderr,
        /--snapshot-blob \/var\/cache\/virt-consolelog\/cli-\S+\.blob \/usr\/lib\/virt-consolelog\/cli-snapshot\.cjs show/,
      );
      t.is(fromBlob.stdout, plain.stdout, args.join(' '));
    }
    t.regex((await show(['-n', '1'])).stdout, /^line 49$/m);
    // Corrupted in V8's part (the first bytes, which V8 checksums; Node's data after it is not checked):
    // Node fails before any JavaScript; the launcher removes it, the plain bundle prints.
    const file = inRoot(`${CACHE}/${cliBlob}`);
    const bytes = readFileSync(file);
    bytes.write('corrupted by the test', Math.floor(bytes.length / 4));
    writeFileSync(file, bytes);
    const corrupt = await chroot(['virt-consolelog', 'show', '-n', '3', 'g1']);
    t.is(corrupt.exitCode, 0, corrupt.stderr);
    t.is(corrupt.stdout, (await show(['-n', '3'], PLAIN)).stdout);
    t.regex(corrupt.stderr, /start-up snapshot .* did not load/);
    t.false(existsSync(file), 'the broken blob is removed');
    // The install step (the doctor's fix too) builds it again beside the hook's blob.
    const [hookBlob] = blobs();
    t.is((await chroot([LAUNCHER, '--build-snapshot'])).exitCode, 0);
    t.deepEqual(blobs('cli-'), [cliBlob]);
    t.deepEqual(blobs(), [hookBlob]);
  },
);

test.serial(
  "the default on Debian's Node (no built-in snapshot): the install built the blob in root's 0700 cache; same output, broken blobs too",
  async (t) => {
    const argv = ['g1', 'migrate', 'begin', '-'];
    const plain = await hook(argv, DOMAIN_XML, PLAIN);
    t.is(plain.exitCode, 0, plain.stderr);
    t.regex(plain.stdout, /append='on'/);
    // Made by the package (no systemd-tmpfiles in the root: the postinst), root's alone.
    t.is(mode(CACHE), 0o700);
    t.is(String((await chroot(['stat', '-c', '%U', `/${CACHE}`])).stdout).trim(), 'root');
    const own = await chroot(['node', '-p', 'process.config.variables.node_use_node_snapshot']);
    t.is(own.stdout, 'false', "Debian's nodejs has no start-up snapshot of its own");
    // The postinst prepared it before apt returned (`50-virt-consolelog --build-snapshot`), so the first
    // guest start already uses it.
    const [installed] = blobs();
    t.truthy(installed, 'a blob built at install');
    t.is(mode(`${CACHE}/${installed}`), 0o600);
    t.deepEqual(
      readdirSync(inRoot(CACHE)).filter((f) => !f.endsWith('.blob')),
      [],
      'no .plain note, no build left running',
    );
    t.is(blobs('cli-').length, 1, "and the command's blob beside it");

    // The blob is what runs (the launcher's trace shows it), and gives the same XML.
    const fromBlob = await chroot(['sh', '-x', LAUNCHER, ...argv], { input: DOMAIN_XML });
    t.is(fromBlob.exitCode, 0, fromBlob.stderr);
    t.is(fromBlob.stdout, plain.stdout);
    t.regex(
      fromBlob.stderr,
      /--snapshot-blob \/var\/cache\/virt-consolelog\/hook-\S+\.blob \/usr\/lib\/virt-consolelog\/hook-snapshot\.cjs g1 migrate/,
    );
    t.notRegex(fromBlob.stderr, /did not load/);

    // Corrupted in the middle: Node fails before any JavaScript, the launcher removes it and runs hook.mjs.
    const file = inRoot(`${CACHE}/${installed}`);
    const bytes = readFileSync(file);
    bytes.write('corrupted by the test', Math.floor(bytes.length / 2));
    writeFileSync(file, bytes);
    const corrupt = await hook(argv);
    t.is(corrupt.exitCode, 0, corrupt.stderr);
    t.is(corrupt.stdout, plain.stdout);
    t.regex(corrupt.stderr, /did not load/);
    t.false(existsSync(file), 'the broken blob is removed');

    // Deleted (the corrupt run started no build): the next run rebuilds it in the background.
    const again = await hook(argv);
    t.is(again.stdout, plain.stdout);
    const rebuilt = await builtBlob();
    rmSync(inRoot(`${CACHE}/${rebuilt}`));
    const deleted = await hook(argv);
    t.is(deleted.exitCode, 0, deleted.stderr);
    t.is(deleted.stdout, plain.stdout);
    await builtBlob();

    // VIRT_CONSOLELOG_SNAPSHOT=1 (forced) runs the same blob.
    const forced = await chroot(['sh', '-x', LAUNCHER, ...argv], { input: DOMAIN_XML, env: FORCED });
    t.is(forced.stdout, plain.stdout);
    t.regex(forced.stderr, /--snapshot-blob \/var\/cache\/virt-consolelog\/hook-\S+\.blob/);

    // A cache folder others could write is refused: the hook runs plainly and writes nothing there.
    chmodSync(inRoot(CACHE), 0o755);
    for (const f of [...blobs(), ...blobs('cli-')]) rmSync(inRoot(`${CACHE}/${f}`));
    const open = await hook(argv);
    t.is(open.exitCode, 0, open.stderr);
    t.is(open.stdout, plain.stdout);
    t.regex(open.stderr, /snapshot folder \/var\/cache\/virt-consolelog not used/);
    t.deepEqual(readdirSync(inRoot(CACHE)), []);
    chmodSync(inRoot(CACHE), 0o700);
  },
);

test.serial('doctor runs in the root and finds the hook; libvirt is missing there', async (t) => {
  const doctor = async () => {
    const r = await chroot(['virt-consolelog', 'doctor', '--json', '--no-peers']);
    t.is(r.exitCode, 1, r.stderr);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      checks: { name: string; status: string; message: string; fix?: string }[];
    };
    return { report, byName: Object.fromEntries(report.checks.map((c) => [c.name, c])) };
  };
  const { report, byName } = await doctor();
  const status = Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
  t.false(report.ok);
  t.is(status.hook, 'ok');
  t.is(status['hook-node'], 'ok');
  t.is(status.store, 'ok');
  t.is(status.key, 'ok');
  t.is(status.libvirt, 'fail');
  // The tests above left the cache empty: the doctor says so and its fix prepares the blob.
  t.deepEqual(blobs(), []);
  t.like(byName['hook-snapshot'], { status: 'warn', fix: `${LAUNCHER} --build-snapshot` });
  const fix = await chroot([LAUNCHER, '--build-snapshot']);
  t.is(fix.exitCode, 0, fix.stderr);
  const [blob] = blobs();
  t.like((await doctor()).byName['hook-snapshot'], {
    status: 'ok',
    message: `the hook starts /usr/bin/node from /${CACHE}/${blob}`,
  });
});

test.serial("an upgrade keeps the operator's config edits and the transfer key", async (t) => {
  const conf = inRoot('etc/virt-consolelog/virt-consolelog.conf');
  writeFileSync(conf, readFileSync(conf, 'utf8') + '\n# edited by the operator\nretention_days = 7\n');
  const edited = readFileSync(conf, 'utf8');
  const key = readFileSync(inRoot('var/lib/virt-consolelog/ssh/id_ed25519.pub'), 'utf8');
  // The next package release: the same files under version -2.
  const tree = join(work, 'next');
  await run('dpkg-deb', ['-R', deb, tree]);
  const control = join(tree, 'DEBIAN/control');
  writeFileSync(control, readFileSync(control, 'utf8').replace(/^Version: .*$/m, `Version: ${VERSION}-2`));
  chmodSync(join(tree, 'DEBIAN'), 0o755);
  await run('dpkg-deb', ['-b', tree, inRoot('tmp/virt-consolelog-next.deb')]);

  await dpkg(['--force-confold', '-i', '/tmp/virt-consolelog-next.deb']);
  const installed = await chroot(['dpkg-query', '-W', '-f', '${Version}', 'virt-consolelog']);
  t.is(installed.stdout, `${VERSION}-2`);
  t.is(readFileSync(conf, 'utf8'), edited);
  t.is(readFileSync(inRoot('var/lib/virt-consolelog/ssh/id_ed25519.pub'), 'utf8'), key);
});

test.serial('remove keeps logs, config and key; the hook left behind lets every event pass', async (t) => {
  const log = inRoot(LIVE_FILE);
  mkdirSync(join(log, '..'), { recursive: true });
  writeFileSync(log, 'boot output the operator needs\n');
  const sealed = inRoot(SEALED_FILE);
  mkdirSync(join(sealed, '..'), { recursive: true });
  writeFileSync(sealed, 'an earlier boot\n');
  await dpkg(['--remove', 'virt-consolelog']);
  t.false(existsSync(inRoot('usr/lib/virt-consolelog/hook.mjs')));
  t.false(existsSync(inRoot('usr/bin/virt-consolelog')));
  t.false(existsSync(inRoot(CACHE)), 'the snapshot cache goes with the program');
  t.true(existsSync(inRoot('etc/virt-consolelog/virt-consolelog.conf')));
  t.true(existsSync(inRoot('var/lib/virt-consolelog/ssh/id_ed25519')));
  t.is(readFileSync(log, 'utf8'), 'boot output the operator needs\n');
  t.is(readFileSync(sealed, 'utf8'), 'an earlier boot\n');
  // dpkg keeps conffiles on remove: the leftover launcher must not fail a guest operation.
  t.true(existsSync(inRoot('etc/libvirt/hooks/qemu.d/50-virt-consolelog')));
  for (const argv of [
    ['g1', 'migrate', 'begin', '-'],
    ['g1', 'prepare', 'begin', '-'],
  ]) {
    const r = await hook(argv);
    t.is(r.exitCode, 0);
    t.is(r.stdout, '', 'unchanged XML');
  }
});

test.serial(
  "purge removes config, state and key but keeps guests' logs and the main qemu hook",
  async (t) => {
    const log = inRoot(LIVE_FILE);
    const out = await dpkg(['--purge', 'virt-consolelog']);
    t.regex(out, /kept the guests' console logs in \/var\/log\/libvirt\/consolelog/);
    for (const gone of [
      'etc/virt-consolelog',
      'etc/default/virt-consolelog',
      'etc/libvirt/hooks/qemu.d/50-virt-consolelog',
      'var/lib/virt-consolelog',
    ])
      t.false(existsSync(inRoot(gone)), `${gone} removed`);
    t.is(readFileSync(log, 'utf8'), 'boot output the operator needs\n');
    t.is(readFileSync(inRoot(SEALED_FILE), 'utf8'), 'an earlier boot\n');
    t.is(readFileSync(inRoot('etc/libvirt/hooks/qemu'), 'utf8'), ADMIN_HOOK);
  },
);

test.serial(
  'purge removes the logs too only when asked: marker file or VIRT_CONSOLELOG_PURGE_LOGS=yes',
  async (t) => {
    const store = inRoot('var/log/libvirt/consolelog');
    await dpkg(['-i', '/tmp/virt-consolelog.deb']);
    t.true(existsSync(store));
    writeFileSync(inRoot('etc/virt-consolelog/purge-logs'), '');
    await dpkg(['--purge', 'virt-consolelog']);
    t.false(existsSync(store), 'marker: store removed');

    await dpkg(['-i', '/tmp/virt-consolelog.deb']);
    writeFileSync(join(store, 'kept-by-default.log'), 'x\n');
    // Our live files in libvirt's QEMU log folder go too, with their rotations; libvirt's own stay.
    const libvirts = inRoot('var/log/libvirt/qemu/g1.log');
    mkdirSync(join(libvirts, '..'), { recursive: true });
    writeFileSync(libvirts, 'libvirt\n');
    writeFileSync(inRoot(`${LIVE_FILE}.0`), 'rotated\n');
    await dpkg(['--purge', 'virt-consolelog'], { VIRT_CONSOLELOG_PURGE_LOGS: 'yes' });
    t.false(existsSync(store), 'environment: store removed');
    t.false(existsSync(inRoot(LIVE_FILE)));
    t.false(existsSync(inRoot(`${LIVE_FILE}.0`)));
    t.is(readFileSync(libvirts, 'utf8'), 'libvirt\n');
    t.true(existsSync(inRoot('var/log/libvirt')), 'only the store, never its parent');
  },
);
