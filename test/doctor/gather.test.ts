// The doctor's adapter against real files, real processes and the real export command: a temp
// tree stands in for /etc/libvirt/hooks, /run and the state dir; /proc is the machine's own.
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { evaluate } from '../../src/doctor/checks.js';
import {
  defaultFileNode,
  gatherFacts,
  launcherSnapshotCode,
  launcherTarget,
  mountOf,
  mountsBelow,
  parseMountinfo,
  probePeer,
  probeWritable,
  stdioHandler,
  SYSTEM_PATHS,
  type DoctorPaths,
} from '../../src/doctor/gather.js';
import { reloadDaemons } from '../../src/doctor/reload.js';
import { DEFAULTS, type Config } from '../../src/config/schema.js';
import { main } from '../../src/cli/main.js';
import { appendJournal } from '../../src/journal/journal.js';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const CLI_JS = join(REPO_ROOT, 'dist/virt-consolelog.mjs');
const LAUNCHER = fs.readFileSync(join(REPO_ROOT, 'packaging/hook-launcher.sh.in'), 'utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tree {
  base: string;
  paths: DoctorPaths;
  config: Config;
  daemons: ResultPromise[];
}

function tree(): Tree {
  const base = fs.mkdtempSync(join(tmpdir(), 'vcl-doctor-'));
  for (const d of ['hooks/qemu.d', 'run/libvirt', 'store', 'state/ssh', 'lib'])
    fs.mkdirSync(join(base, d), { recursive: true });
  const config: Config = {
    ...structuredClone(DEFAULTS),
    logRoot: join(base, 'store'),
    stateDir: join(base, 'state'),
    sshKey: join(base, 'state/ssh/id_ed25519'),
    hostName: 'hosta',
  } as Config;
  const paths: DoctorPaths = {
    ...SYSTEM_PATHS,
    hooksDir: join(base, 'hooks'),
    runDir: join(base, 'run'),
    qemuConf: join(base, 'qemu.conf'),
    defaultFile: join(base, 'default'),
  };
  return { base, paths, config, daemons: [] };
}

function installHook(t: Tree, name = '50-virt-consolelog'): string {
  const target = join(t.base, 'lib/hook.mjs');
  fs.writeFileSync(target, '// hook\n');
  const path = join(t.paths.hooksDir, 'qemu.d', name);
  fs.writeFileSync(path, LAUNCHER.replaceAll('@HOOK_JS@', target), { mode: 0o755 });
  return path;
}

/** A real process whose name is `name` that records every SIGHUP, with its pid file in run/. */
async function fakeDaemon(t: Tree, name: string): Promise<{ pid: number; hups: string }> {
  const hups = join(t.base, `${name}.hups`);
  const exe = join(t.base, name);
  fs.writeFileSync(exe, `#!/bin/sh\ntrap 'echo hup >> ${hups}' HUP\nwhile :; do sleep 0.05; done\n`, {
    mode: 0o755,
  });
  const child = execa(exe, [], { reject: false, stdio: 'ignore' });
  t.daemons.push(child);
  const pid = child.pid as number;
  // Until exec completes the process still carries the test runner's name.
  for (let i = 0; i < 100 && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== name; i++)
    await sleep(20);
  fs.writeFileSync(join(t.paths.runDir, `${name}.pid`), `${pid}\n`);
  return { pid, hups };
}

function cleanup(t: Tree) {
  for (const d of t.daemons) d.kill('SIGKILL');
  fs.rmSync(t.base, { recursive: true, force: true });
}

const statusOf = async (t: Tree, name: string) =>
  evaluate(await gatherFacts(t.config, 'test.conf', [], { paths: t.paths, peers: false })).find(
    (c) => c.name === name,
  );

test('the hook in qemu.d is recognised by content; its hook.mjs is read from the launcher', async (t) => {
  const tr = tree();
  try {
    fs.writeFileSync(join(tr.paths.hooksDir, 'qemu.d/10-other'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    fs.writeFileSync(join(tr.paths.hooksDir, 'qemu.d/README'), 'not executable\n', { mode: 0o644 });
    const path = installHook(tr);
    const facts = await gatherFacts(tr.config, 'test.conf', [], { paths: tr.paths, peers: false });
    t.is(facts.hooks.length, 1);
    t.like(facts.hooks[0], {
      path,
      executable: true,
      target: join(tr.base, 'lib/hook.mjs'),
      targetExists: true,
    });
    t.deepEqual(
      facts.otherHooks.map((h) => h.path),
      [join(tr.paths.hooksDir, 'qemu.d/10-other')],
    );
    fs.rmSync(join(tr.base, 'lib/hook.mjs'));
    t.like(await statusOf(tr, 'hook'), { status: 'fail' });
    fs.rmSync(path);
    t.regex((await statusOf(tr, 'hook'))!.message, /no virt-consolelog hook/);
  } finally {
    cleanup(tr);
  }
});

test('a daemon found through its pid file: start time from /proc, seen or not by the hook, then reloaded', async (t) => {
  const tr = tree();
  try {
    const before = Date.now();
    const d = await fakeDaemon(tr, 'libvirtd');
    const after = Date.now();
    const facts = await gatherFacts(tr.config, 'test.conf', [], { paths: tr.paths, peers: false });
    t.is(facts.daemons.length, 1);
    const found = facts.daemons[0]!;
    t.is(found.pid, d.pid);
    // /proc/uptime has 10 ms resolution; the process started between before and after.
    t.true(
      found.startedAtMs! >= before - 50 && found.startedAtMs! <= after + 50,
      `${before} <= ${found.startedAtMs} <= ${after}`,
    );

    await sleep(50);
    installHook(tr); // after the daemon started: libvirt has not seen it
    const unseen = await statusOf(tr, 'hook-seen');
    t.is(unseen!.status, 'fail', unseen!.message);

    const results = await reloadDaemons(facts.daemons, tr.config.stateDir, tr.paths.runDir);
    t.deepEqual(results, [{ daemon: 'libvirtd', pid: d.pid }]);
    for (let i = 0; i < 100 && !fs.existsSync(d.hups); i++) await sleep(20);
    t.is(fs.readFileSync(d.hups, 'utf8'), 'hup\n', 'SIGHUP, and the daemon keeps running');
    t.is(fs.readFileSync(`/proc/${d.pid}/comm`, 'utf8').trim(), 'libvirtd');
    const seen = await statusOf(tr, 'hook-seen');
    t.is(seen!.status, 'ok', seen!.message);
    t.regex(seen!.message, /reloaded after the hook appeared/);
  } finally {
    cleanup(tr);
  }
});

test('a stale pid file naming another process is not a daemon', async (t) => {
  const tr = tree();
  try {
    fs.writeFileSync(join(tr.paths.runDir, 'libvirtd.pid'), `${process.pid}\n`);
    fs.writeFileSync(join(tr.paths.runDir, 'virtlogd.pid'), 'garbage\n');
    const facts = await gatherFacts(tr.config, 'test.conf', [], { paths: tr.paths, peers: false });
    t.deepEqual(facts.daemons, []);
    t.is(facts.virtlogd.pid, undefined);
    const d = await fakeDaemon(tr, 'virtlogd');
    t.is(
      (await gatherFacts(tr.config, 'test.conf', [], { paths: tr.paths, peers: false })).virtlogd.pid,
      d.pid,
    );
  } finally {
    cleanup(tr);
  }
});

test('store probe: writable, missing, not a directory; nothing is left behind', (t) => {
  const tr = tree();
  try {
    const ok = probeWritable(tr.config.logRoot);
    t.is(ok.problem, undefined);
    t.true((ok.freeBytes ?? 0) > 0);
    t.deepEqual(fs.readdirSync(tr.config.logRoot), []);
    t.regex(probeWritable(join(tr.base, 'nope')).problem!, /^ENOENT/);
    fs.writeFileSync(join(tr.base, 'file'), '');
    t.is(probeWritable(join(tr.base, 'file')).problem, 'not a directory');
  } finally {
    cleanup(tr);
  }
});

test('parsers: launcher target, stdio_handler, VIRT_CONSOLELOG_NODE', (t) => {
  t.is(
    launcherTarget(LAUNCHER.replaceAll('@HOOK_JS@', '/usr/lib/virt-consolelog/hook.mjs')),
    '/usr/lib/virt-consolelog/hook.mjs',
  );
  t.is(launcherTarget('#!/bin/sh\nexit 0\n'), undefined);
  t.is(
    launcherSnapshotCode(
      LAUNCHER.replaceAll('@HOOK_SNAPSHOT_JS@', '/usr/lib/virt-consolelog/hook-snapshot.cjs'),
    ),
    '/usr/lib/virt-consolelog/hook-snapshot.cjs',
  );
  // The launcher builds the CLI's blob too: its code is not the hook's, wherever it stands.
  t.is(
    launcherSnapshotCode('--build-snapshot "/l/cli-snapshot.cjs"\n--build-snapshot "/l/hook-snapshot.cjs"\n'),
    '/l/hook-snapshot.cjs',
  );
  t.is(stdioHandler(undefined), 'logd');
  t.is(stdioHandler('# stdio_handler = "file"\nuser = "root"\n'), 'logd');
  t.is(stdioHandler('stdio_handler = "file"\n'), 'file');
  t.is(
    defaultFileNode(fs.readFileSync(join(REPO_ROOT, 'packaging/virt-consolelog.default'), 'utf8')),
    undefined,
  );
  t.is(defaultFileNode('VIRT_CONSOLELOG_NODE="/opt/node/bin/node"\n'), '/opt/node/bin/node');
  t.is(defaultFileNode('export VIRT_CONSOLELOG_NODE=/opt/n\n'), '/opt/n');
});

test('Node for the hook: VIRT_CONSOLELOG_NODE from the default file wins, its version is asked', async (t) => {
  const tr = tree();
  try {
    fs.writeFileSync(tr.paths.defaultFile, `VIRT_CONSOLELOG_NODE=${process.execPath}\n`);
    const facts = await gatherFacts(tr.config, 'test.conf', [], {
      paths: { ...tr.paths, nodeCandidates: [] },
      peers: false,
    });
    t.is(facts.node.path, process.execPath);
    t.is(facts.node.version, process.versions.node);
  } finally {
    cleanup(tr);
  }
});

test('hook-snapshot: the files the real launcher made for this Node are found under its own names', async (t) => {
  const tr = tree();
  try {
    const cache = join(tr.base, 'cache');
    fs.mkdirSync(cache);
    fs.chmodSync(cache, 0o700);
    const hook = join(tr.paths.hooksDir, 'qemu.d/50-virt-consolelog');
    fs.copyFileSync(join(REPO_ROOT, 'dist/virt-consolelog-hook'), hook);
    fs.chmodSync(hook, 0o755);
    const settings = { VIRT_CONSOLELOG_NODE: process.execPath, VIRT_CONSOLELOG_SNAPSHOT_DIR: cache };
    const prepare = async (mode: '1' | 'auto') => {
      // What the package's install step runs; the launcher reads the same settings from its environment.
      const r = await execa(hook, ['--build-snapshot'], {
        env: {
          PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
          ...settings,
          ...(mode === '1' ? { VIRT_CONSOLELOG_SNAPSHOT: '1' } : {}),
        },
        extendEnv: false,
        reject: false,
      });
      t.is(r.exitCode, 0, r.stderr);
      fs.writeFileSync(
        tr.paths.defaultFile,
        Object.entries({ ...settings, VIRT_CONSOLELOG_SNAPSHOT: mode })
          .map(([k, v]) => `${k}="${v}"\n`)
          .join(''),
      );
    };
    const check = async () => {
      const facts = await gatherFacts(tr.config, 'test.conf', [], {
        paths: { ...tr.paths, nodeCandidates: [] },
        peers: false,
      });
      return { facts, check: evaluate(facts).find((c) => c.name === 'hook-snapshot')! };
    };

    await prepare('1');
    // The CLI's blob is built beside it (cli-KEY.blob): the doctor's check is the hook's.
    const [blob] = fs.readdirSync(cache).filter((f) => f.startsWith('hook-'));
    let { facts, check: c } = await check();
    t.is(blob, `hook-${facts.snapshot.key}.blob`, 'the key the launcher named its blob with');
    t.like(facts.snapshot, { mode: '1', code: join(REPO_ROOT, 'dist/hook-snapshot.cjs'), codeExists: true });
    t.deepEqual(facts.snapshot.present, { blob: true, plain: false, failed: false, building: false });
    t.like(c, { status: 'ok', message: `the hook starts ${process.execPath} from ${join(cache, blob!)}` });

    // Auto on this Node (it has its own start-up snapshot): with no blob, the launcher notes that.
    fs.rmSync(join(cache, blob!));
    await prepare('auto');
    t.deepEqual(fs.readdirSync(cache), [`hook-${facts.snapshot.key}.plain`], "the CLI's blob went too");
    ({ facts, check: c } = await check());
    t.true(facts.snapshot.nodeHasOwn);
    t.like(c, {
      status: 'ok',
      message: `${process.execPath} starts plainly: it has its own start-up snapshot (auto)`,
    });

    fs.renameSync(
      join(cache, `hook-${facts.snapshot.key}.plain`),
      join(cache, `hook-${facts.snapshot.key}.failed`),
    );
    t.like((await check()).check, {
      status: 'warn',
      fix: `rm ${join(cache, `hook-${facts.snapshot.key}.failed`)} && ${hook} --build-snapshot`,
    });
    fs.rmSync(join(cache, `hook-${facts.snapshot.key}.failed`));
    t.like((await check()).check, { status: 'warn', fix: `${hook} --build-snapshot` });

    fs.chmodSync(cache, 0o755);
    t.like((await check()).facts.snapshot, { dirProblem: 'mode 0755, not 0700', key: undefined });
    fs.renameSync(cache, `${cache}.real`);
    fs.symlinkSync(`${cache}.real`, cache);
    const linked = await check();
    t.is(linked.facts.snapshot.dirProblem, 'a symlink');
    t.like(linked.check, {
      status: 'warn',
      message: `${cache} not used (a symlink): the hook starts Node plainly`,
    });
  } finally {
    cleanup(tr);
  }
});

test('peer probe through the real export command (transport "command"), and a failing one', async (t) => {
  const tr = tree();
  try {
    const conf = join(tr.base, 'peer.conf');
    fs.writeFileSync(
      conf,
      `log_root = "${tr.config.logRoot}"\nstate_dir = "${tr.config.stateDir}"\nhost_name = "peerb"\n`,
    );
    const config: Config = {
      ...tr.config,
      transport: 'command',
      transportCommand: [process.execPath, CLI_JS, '--config', conf, 'serve-export'],
    };
    const ok = await probePeer(config, 'peerb');
    t.is(ok.problem, undefined);
    t.is(ok.exporter, 'peerb');

    const refusing = await probePeer({ ...config, transportCommand: ['false'] }, 'peerb');
    t.regex(refusing.problem!, /^false failed \(exit 1\)/);
    t.false(refusing.unreachable);
    const missing = await probePeer(
      { ...config, transportCommand: [join(tr.base, 'no-such-program')] },
      'peerb',
    );
    t.true(missing.unreachable);
    const bad = await probePeer(config, '-oProxyCommand=x');
    t.regex(bad.problem!, /bad peer name/);
  } finally {
    cleanup(tr);
  }
});

test('peer probe over ssh with the dedicated key: an unreachable peer fails fast with exit 255', async (t) => {
  const tr = tree();
  try {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', tr.config.sshKey]);
    // Whether or not an sshd listens on the loopback, this key is authorized nowhere: ssh fails itself (255).
    const r = await probePeer({ ...tr.config, transport: 'ssh' }, '127.0.0.1');
    t.true(r.unreachable, r.problem);
    t.regex(r.problem!, /^ssh failed \(exit 255\)/);
    t.true(r.ms < 10_000);
  } finally {
    cleanup(tr);
  }
});

test('the doctor command: --json on this machine, exit code agrees with the checks; bad flag is a usage error', async (t) => {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  out.on('data', (c) => (stdout += String(c)));
  const io = {
    stdin: new PassThrough(),
    stdout: out,
    stderr: err,
    env: { ...process.env, VIRT_CONSOLELOG_CONFIG: '/nonexistent' },
  };
  const code = await main(['doctor', '--json', '--no-peers'], io);
  const report = JSON.parse(stdout) as {
    ok: boolean;
    problems: number;
    checks: { name: string; status: string }[];
  };
  t.is(code, report.ok ? 0 : 1);
  t.is(report.problems, report.checks.filter((c) => c.status === 'fail').length);
  t.true(report.checks.some((c) => c.name === 'libvirt'));
  t.is(await main(['doctor', '--frobnicate'], io), 2);
});

test('a hook run in the journal since the daemon started counts as seen; other journal entries do not', async (t) => {
  const tr = tree();
  try {
    await fakeDaemon(tr, 'virtqemud');
    await sleep(50);
    installHook(tr);
    const entry = {
      host: 'hosta',
      domain: 'g1',
      subop: 'begin',
      extra: '-',
      pid: 1,
      kind: 'x',
      ms: 1,
      problems: [],
      notes: [],
      failed: false,
    };
    await appendJournal(tr.config, { ...entry, at: new Date().toISOString(), op: 'auto-enable' });
    t.is((await statusOf(tr, 'hook-seen'))!.status, 'fail');
    await appendJournal(tr.config, { ...entry, at: new Date().toISOString(), op: 'prepare' });
    const seen = await statusOf(tr, 'hook-seen');
    t.is(seen!.status, 'ok');
    t.regex(seen!.message, /virtqemud \(pid \d+\) ran the hook at .* \(journal\)/);
  } finally {
    cleanup(tr);
  }
});

test('mountinfo: fields, escapes, read-only from mount or superblock options; the mount a path is on', (t) => {
  const text = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro',
    '30 22 0:40 / /var/log/my\\040logs rw,nosuid - tmpfs tmpfs rw,size=1024k',
    '31 30 8:1 /srv /var/log/my\\040logs/store/a ro,relatime master:2 - ext4 /dev/sda1 rw',
    '32 22 8:2 / /data rw - xfs /dev/sdb ro,attr2',
    '33 30 0:41 / /var/log/my\\040logs/store/a rw - tmpfs tmpfs rw',
    'garbage line',
    '',
  ].join('\n');
  const mounts = parseMountinfo(text);
  t.deepEqual(
    mounts.map((m) => [m.id, m.mountPoint, m.fsType, m.readOnly]),
    [
      [22, '/', 'ext4', false],
      [30, '/var/log/my logs', 'tmpfs', false],
      [31, '/var/log/my logs/store/a', 'ext4', true],
      [32, '/data', 'xfs', true],
      [33, '/var/log/my logs/store/a', 'tmpfs', false],
    ],
  );
  t.is(mountOf(mounts, '/var/log/my logs/store')?.id, 30);
  t.is(
    mountOf(mounts, '/var/log/my logs/store/a/x')?.id,
    33,
    'the newest mount on a mount point covers the older',
  );
  t.is(mountOf(mounts, '/var/log/my logsx')?.id, 22, 'a prefix of the name is not a parent');
  t.deepEqual(
    mountsBelow(mounts, '/var/log/my logs').map((m) => m.id),
    [33],
  );
  t.deepEqual(mountsBelow(mounts, '/var/log/my logs/store/a'), []);
});

test('file systems: log_root, state_dir and each mount below log_root; a symlinked mount path is refused', async (t) => {
  const tr = tree();
  try {
    const root = fs.realpathSync(tr.config.logRoot);
    const archive = join(root, 'u1', 'archive');
    fs.mkdirSync(archive, { recursive: true });
    const sentinel = join(tr.base, 'sentinel');
    fs.mkdirSync(sentinel);
    fs.mkdirSync(join(root, 'u2'));
    fs.symlinkSync(sentinel, join(root, 'u2', 'archive'));
    const mountinfo = join(tr.base, 'mountinfo');
    fs.writeFileSync(
      mountinfo,
      [
        '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw',
        `40 22 0:50 / ${archive} ro,relatime - tmpfs vcl rw`,
        `41 22 0:51 / ${join(root, 'u2', 'archive')} rw - tmpfs vcl rw`,
      ].join('\n') + '\n',
    );
    const facts = await gatherFacts(tr.config, 'test.conf', [], {
      paths: { ...tr.paths, mountinfo },
      peers: false,
    });
    t.deepEqual(
      facts.filesystems.map((f) => [f.mountPoint, f.holds, f.readOnly]),
      [
        ['/', [`log_root ${tr.config.logRoot}`, `state_dir ${tr.config.stateDir}`], false],
        [archive, ['u1/archive of log_root'], true],
        [join(root, 'u2', 'archive'), ['u2/archive of log_root'], false],
      ],
    );
    t.true((facts.filesystems[0]?.freeBytes ?? 0) > 0);
    t.is(facts.filesystems[1]?.problem, undefined, 'the folder itself is writable (the mount is not real)');
    t.true((facts.filesystems[1]?.totalBytes ?? 0) > 0);
    t.regex(facts.filesystems[2]?.problem ?? '', /symlink/);
    t.deepEqual(fs.readdirSync(sentinel), [], 'nothing written through the symlink');
    t.deepEqual(fs.readdirSync(archive), [], 'the probe file is gone');
    const checks = Object.fromEntries(evaluate(facts).map((c) => [c.name, c]));
    t.like(checks[`disk:${archive}`], { status: 'fail' });
    t.regex(checks[`disk:${archive}`]!.message, /mounted read-only/);
    t.like(checks[`disk:${join(root, 'u2', 'archive')}`], { status: 'fail' });
  } finally {
    cleanup(tr);
  }
});

// Real mounts in a private mount namespace (root only): a full tmpfs over one domain's archive and
// a read-only one over another's, below a log_root with plenty of room. The store check alone,
// which writes at log_root, saw neither (RELIABILITY.md finding 7).
test('doctor on real mounts: a full archive and a read-only domain folder below log_root fail', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('needs root for a mount namespace');
  const tr = tree();
  try {
    const full = join(tr.config.logRoot, 'u1', 'archive');
    const ro = join(tr.config.logRoot, 'u2');
    fs.mkdirSync(full, { recursive: true });
    fs.mkdirSync(ro, { recursive: true });
    const conf = join(tr.base, 'doctor.conf');
    fs.writeFileSync(
      conf,
      `log_root = "${tr.config.logRoot}"\nstate_dir = "${tr.config.stateDir}"\nhost_name = "hosta"\n`,
    );
    const script = [
      'set -e',
      'mount -t tmpfs -o size=256k vcl-full "$1"',
      'dd if=/dev/zero of="$1/filler" bs=4k count=100 2>/dev/null || true',
      'mount -t tmpfs -o ro vcl-ro "$2"',
      'exec "$3" "$4" doctor --json --no-peers',
    ].join('\n');
    const r = await execa(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', full, ro, process.execPath, CLI_JS],
      { reject: false, env: { ...process.env, VIRT_CONSOLELOG_CONFIG: conf } },
    );
    if (r.exitCode !== 0 && !String(r.stdout).startsWith('{'))
      return t.pass(`no mount namespace here: ${r.stderr}`);
    const checks = Object.fromEntries(
      (
        JSON.parse(String(r.stdout)) as { checks: { name: string; status: string; message: string }[] }
      ).checks.map((c) => [c.name, c]),
    );
    for (const c of Object.values(checks)) if (c.name.startsWith('disk:')) t.log(`${c.status}: ${c.message}`);
    const realFull = fs.realpathSync(full);
    const realRo = fs.realpathSync(ro);
    t.like(checks.store, { status: 'ok' }, 'log_root itself has room');
    t.like(checks[`disk:${realFull}`], { status: 'fail' });
    t.regex(checks[`disk:${realFull}`]!.message, /^tmpfs holding u1\/archive of log_root: full/);
    t.like(checks[`disk:${realRo}`], { status: 'fail' });
    t.regex(checks[`disk:${realRo}`]!.message, /mounted read-only/);
    t.is(r.exitCode, 1);
    t.deepEqual(fs.readdirSync(full), [], 'the mounts stayed in their namespace');
  } finally {
    cleanup(tr);
  }
});
