// The doctor's judgement (pure): facts in, verdicts and fixes out.
import test from 'ava';
import { evaluate, formatReport, problemCount, type DoctorFacts } from '../../src/doctor/checks.js';

const HOOK = '/etc/libvirt/hooks/qemu.d/50-virt-consolelog';
const T0 = Date.parse('2026-11-22T03:00:00Z');

/** A healthy host: every check passes. */
function healthy(): DoctorFacts {
  return {
    configPath: '/etc/virt-consolelog/virt-consolelog.conf',
    configErrors: [],
    hostName: 'hosta',
    libvirt: { version: '9.0.0', binaryFound: true },
    qemu: { version: '7.2.0', binaryFound: true },
    virtlogd: { pid: 100, socket: '/run/libvirt/virtlogd-sock' },
    stdioHandler: 'logd',
    hooksDir: '/etc/libvirt/hooks',
    hooks: [
      {
        path: HOOK,
        executable: true,
        ctimeMs: T0,
        target: '/usr/lib/virt-consolelog/hook.mjs',
        targetExists: true,
      },
    ],
    otherHooks: [],
    node: { path: '/usr/bin/node', version: '18.19.0' },
    snapshot: {
      mode: 'auto',
      code: '/usr/lib/virt-consolelog/hook-snapshot.cjs',
      codeExists: true,
      dir: '/var/cache/virt-consolelog',
      dirProblem: undefined,
      key: 'K',
      present: { blob: true, plain: false, failed: false, building: false },
      nodeHasOwn: false,
    },
    daemons: [{ name: 'libvirtd', pid: 200, startedAtMs: T0 + 1000, startTicks: 5000 }],
    reloads: [],
    lastHookRunMs: undefined,
    store: { path: '/var/log/libvirt/consolelog', problem: undefined, freeBytes: 5 * 1024 ** 3 },
    state: { path: '/var/lib/virt-consolelog', problem: undefined },
    live: { path: '/var/log/libvirt/qemu', problem: undefined },
    filesystems: [
      {
        mountPoint: '/var',
        fsType: 'ext4',
        holds: ['log_root /var/log/libvirt/consolelog', 'state_dir /var/lib/virt-consolelog'],
        readOnly: false,
        problem: undefined,
        freeBytes: 5 * 1024 ** 3,
        totalBytes: 20 * 1024 ** 3,
        freeInodes: 900_000,
        totalInodes: 1_000_000,
      },
    ],
    domainCapBytes: 64 * 1024 ** 2,
    transport: 'ssh',
    sshUser: 'root',
    key: { path: '/var/lib/virt-consolelog/ssh/id_ed25519', exists: true, mode: 0o600, publicExists: true },
    peers: [{ name: 'hostb', problem: undefined, exporter: 'hostb', ms: 40 }],
    configuredPeers: ['hostb'],
  };
}

const byName = (f: DoctorFacts) => Object.fromEntries(evaluate(f).map((c) => [c.name, c]));

test('a healthy host: every check ok, no problem', (t) => {
  const checks = evaluate(healthy());
  t.deepEqual(
    checks.map((c) => [c.name, c.status]),
    [
      ['config', 'ok'],
      ['libvirt', 'ok'],
      ['qemu', 'ok'],
      ['virtlogd', 'ok'],
      ['hook', 'ok'],
      ['hook-node', 'ok'],
      ['hook-snapshot', 'ok'],
      ['hook-seen', 'ok'],
      ['store', 'ok'],
      ['state', 'ok'],
      ['live-dir', 'ok'],
      ['disk:/var', 'ok'],
      ['key', 'ok'],
      ['peer:hostb', 'ok'],
    ],
  );
  t.is(problemCount(checks), 0);
  t.regex(formatReport(checks), /\nNo problems found\.\n$/);
  t.regex(byName(healthy()).store!.message, /5\.0 GiB free/);
});

test('hook seen: the daemon started after the hook appeared', (t) => {
  t.is(byName(healthy())['hook-seen']!.status, 'ok');
});

test('hook not seen: the daemon started before the hook appeared and was never reloaded', (t) => {
  const f = healthy();
  f.daemons = [{ name: 'virtqemud', pid: 300, startedAtMs: T0 - 60_000, startTicks: 42 }];
  const c = byName(f)['hook-seen']!;
  t.is(c.status, 'fail');
  t.regex(c.message, /virtqemud \(pid 300\) started before the hook appeared/);
  t.regex(c.fix!, /systemctl reload virtqemud/);
  t.regex(c.fix!, /kill -HUP "\$\(cat \/run\/virtqemud\.pid\)"/);
  t.is(problemCount(evaluate(f)), 1);
});

test('hook seen through a recorded reload of the same process after the hook appeared', (t) => {
  const f = healthy();
  f.daemons = [{ name: 'libvirtd', pid: 300, startedAtMs: T0 - 60_000, startTicks: 42 }];
  f.reloads = [{ daemon: 'libvirtd', pid: 300, startTicks: 42, atMs: T0 + 5 }];
  t.is(byName(f)['hook-seen']!.status, 'ok');
  // A reload before the hook appeared does not count...
  f.reloads = [{ daemon: 'libvirtd', pid: 300, startTicks: 42, atMs: T0 - 5 }];
  t.is(byName(f)['hook-seen']!.status, 'fail');
  // ...nor one of an earlier process that had the same pid.
  f.reloads = [{ daemon: 'libvirtd', pid: 300, startTicks: 41, atMs: T0 + 5 }];
  t.is(byName(f)['hook-seen']!.status, 'fail');
});

test('hook seen because another qemu hook existed when the daemon started (qemu.d re-read per call)', (t) => {
  const f = healthy();
  f.daemons = [{ name: 'libvirtd', pid: 300, startedAtMs: T0 - 60_000, startTicks: 42 }];
  f.otherHooks = [{ path: '/etc/libvirt/hooks/qemu', ctimeMs: T0 - 3_600_000 }];
  const c = byName(f)['hook-seen']!;
  t.is(c.status, 'ok');
  t.regex(c.message, /found \/etc\/libvirt\/hooks\/qemu at start/);
  // A hook that appeared after the start does not set libvirt's cached bit either.
  f.otherHooks = [{ path: '/etc/libvirt/hooks/qemu', ctimeMs: T0 - 1000 }];
  t.is(byName(f)['hook-seen']!.status, 'fail');
});

test('hook seen because the journal shows a hook run since the daemon started', (t) => {
  const f = healthy();
  f.daemons = [{ name: 'libvirtd', pid: 300, startedAtMs: T0 - 60_000, startTicks: 42 }];
  f.lastHookRunMs = T0 - 30_000;
  const c = byName(f)['hook-seen']!;
  t.is(c.status, 'ok');
  t.regex(c.message, /ran the hook at 2026-11-22T02:59:30\.000Z \(journal\)/);
  f.lastHookRunMs = T0 - 90_000; // a run before this daemon started proves nothing about it
  t.is(byName(f)['hook-seen']!.status, 'fail');
});

test('no daemon running: a warning, not a problem', (t) => {
  const f = healthy();
  f.daemons = [];
  const c = byName(f)['hook-seen']!;
  t.is(c.status, 'warn');
  t.is(problemCount(evaluate(f)), 0);
});

test('hook missing, not executable, pointing at a missing hook.mjs, or installed twice', (t) => {
  const f = healthy();
  f.hooks = [];
  t.like(byName(f).hook, { status: 'fail' });
  t.false('hook-seen' in byName(f));

  const g = healthy();
  g.hooks[0]!.executable = false;
  t.like(byName(g).hook, { status: 'fail', fix: `chmod 0755 ${HOOK}` });

  const h = healthy();
  h.hooks[0]!.targetExists = false;
  t.regex(byName(h).hook!.message, /does not exist: every event passes unlogged/);

  const i = healthy();
  i.hooks.push({ ...i.hooks[0]!, path: '/etc/libvirt/hooks/qemu.d/60-copy' });
  t.regex(byName(i).hook!.message, /2 virt-consolelog hooks/);
});

test('Node for the hook: missing or older than 18.19', (t) => {
  const f = healthy();
  f.node = { path: undefined, version: undefined };
  t.like(byName(f)['hook-node'], { status: 'fail' });
  f.node = { path: '/usr/local/bin/node', version: '18.18.2' };
  t.regex(byName(f)['hook-node']!.message, /Node\.js 18\.18\.2; the hook needs >= 18\.19\.0/);
  f.node = { path: '/usr/bin/node', version: '20.20.2' };
  t.is(byName(f)['hook-node']!.status, 'ok');
});

test('start-up snapshot: what the launcher starts Node from, in its order; each doubt with its fix', (t) => {
  const verdict = (change: (s: DoctorFacts['snapshot'], f: DoctorFacts) => void) => {
    const f = healthy();
    change(f.snapshot, f);
    const c = byName(f)['hook-snapshot']!;
    return [c.status, c.message, c.fix];
  };
  const blob = '/var/cache/virt-consolelog/hook-K.blob';
  t.deepEqual(
    verdict(() => {}),
    ['ok', `the hook starts /usr/bin/node from ${blob}`, undefined],
  );
  // A failed note wins over everything but 0; a plain note counts in auto only.
  t.deepEqual(
    verdict((s) => (s.present = { blob: true, plain: true, failed: true, building: true })),
    [
      'warn',
      'preparing the snapshot for /usr/bin/node failed (/var/cache/virt-consolelog/hook-K.failed): the hook starts Node plainly (this Node has no start-up snapshot of its own: each run is slower)',
      `rm /var/cache/virt-consolelog/hook-K.failed && ${HOOK} --build-snapshot`,
    ],
  );
  t.like(
    byName({
      ...healthy(),
      snapshot: {
        ...healthy().snapshot,
        nodeHasOwn: true,
        present: { blob: false, plain: true, failed: false, building: false },
      },
    })['hook-snapshot'],
    { status: 'ok', message: '/usr/bin/node starts plainly: it has its own start-up snapshot (auto)' },
  );
  t.deepEqual(
    verdict((s) => {
      s.mode = '1';
      s.present = { blob: false, plain: true, failed: false, building: false };
    })[0],
    'warn',
    'mode 1 ignores a plain note: nothing prepared',
  );
  t.deepEqual(
    verdict((s) => (s.present = { blob: false, plain: false, failed: false, building: true })),
    ['ok', 'being prepared for /usr/bin/node (/var/cache/virt-consolelog/.building-K)', undefined],
  );
  t.deepEqual(
    verdict((s) => (s.present = { blob: false, plain: false, failed: false, building: false })),
    [
      'warn',
      'nothing prepared for /usr/bin/node and this hook (Node.js or the package changed since): the next hook run prepares it in the background',
      `${HOOK} --build-snapshot`,
    ],
  );
  t.deepEqual(
    verdict((s) => (s.mode = '0')),
    ['ok', 'off (VIRT_CONSOLELOG_SNAPSHOT=0): the hook starts Node plainly', undefined],
  );
  // The folder: auto without it is fine only for a Node with its own snapshot; a wrong one is named.
  t.deepEqual(
    verdict((s) => {
      s.dirProblem = 'missing';
      s.key = undefined;
    }),
    [
      'warn',
      '/var/cache/virt-consolelog is missing, so auto prepares nothing: the hook starts Node plainly (this Node has no start-up snapshot of its own: each run is slower)',
      `install -d -m 0700 /var/cache/virt-consolelog && ${HOOK} --build-snapshot`,
    ],
  );
  t.is(
    verdict((s) => {
      s.dirProblem = 'missing';
      s.nodeHasOwn = true;
    })[0],
    'ok',
  );
  t.deepEqual(
    verdict((s) => {
      s.dirProblem = 'missing';
      s.mode = '1';
    }).slice(0, 1),
    ['warn'],
  );
  t.deepEqual(
    verdict((s) => {
      s.dirProblem = 'a symlink';
      s.key = undefined;
    }).slice(1),
    [
      '/var/cache/virt-consolelog not used (a symlink): the hook starts Node plainly (this Node has no start-up snapshot of its own: each run is slower)',
      `rm /var/cache/virt-consolelog && install -d -m 0700 /var/cache/virt-consolelog && ${HOOK} --build-snapshot`,
    ],
  );
  t.is(
    verdict((s) => {
      s.dirProblem = 'mode 0755, not 0700';
      s.key = undefined;
    })[2],
    `chown root:root /var/cache/virt-consolelog && chmod 0700 /var/cache/virt-consolelog && ${HOOK} --build-snapshot`,
  );
  t.deepEqual(verdict((s) => (s.codeExists = false))[0], 'warn');
  t.deepEqual(verdict((s) => (s.code = undefined))[0], 'skip');
  t.deepEqual(verdict((_, f) => (f.node.path = undefined))[0], 'skip');
  t.is(
    problemCount(
      evaluate({ ...healthy(), snapshot: { ...healthy().snapshot, mode: '1', dirProblem: 'missing' } }),
    ),
    0,
    'a snapshot is never a problem: only slower',
  );
});

test('versions: libvirt too old for qemu.d or for chardev logs, QEMU too old, binaries missing', (t) => {
  const f = healthy();
  f.libvirt.version = '6.0.0';
  t.regex(byName(f).libvirt!.message, /does not run hooks from qemu\.d \(needs >= 6\.5\.0\)/);
  f.libvirt.version = '1.3.2';
  t.regex(byName(f).libvirt!.message, /cannot log chardevs/);
  f.libvirt = { version: undefined, binaryFound: false };
  t.like(byName(f).libvirt, { status: 'fail', message: 'no libvirtd or virtqemud found' });
  const g = healthy();
  g.qemu.version = '2.5.0';
  t.is(byName(g).qemu!.status, 'fail');
  const h = healthy();
  h.libvirt.version = '10.5.0';
  t.is(byName(h).libvirt!.message, 'libvirt 10.5.0');
  h.libvirt.version = '9.0.0';
  t.regex(byName(h).libvirt!.message, /"release end" carries no reason/);
});

test('virtlogd: running, socket-activated, absent, or bypassed by stdio_handler = "file"', (t) => {
  const f = healthy();
  f.virtlogd = { pid: undefined, socket: '/run/libvirt/virtlogd-sock' };
  t.regex(byName(f).virtlogd!.message, /starts it on demand/);
  f.virtlogd = { pid: undefined, socket: undefined };
  t.is(byName(f).virtlogd!.status, 'fail');
  const g = healthy();
  g.stdioHandler = 'file';
  t.like(byName(g).virtlogd, { status: 'warn' });
});

test('store and state: missing or unwritable, with the command that fixes it', (t) => {
  const f = healthy();
  f.store = { path: '/var/log/libvirt/consolelog', problem: 'ENOENT: missing' };
  t.like(byName(f).store, { status: 'fail', fix: 'mkdir -p -m 0750 /var/log/libvirt/consolelog' });
  f.state = { path: '/var/lib/virt-consolelog', problem: 'EACCES: permission denied' };
  t.regex(byName(f).state!.fix!, /a directory root can write/);
  t.is(problemCount(evaluate(f)), 2);
  f.state = { path: '/var/lib/virt-consolelog', problem: 'EROFS: read-only file system' };
  t.is(byName(f).state!.fix, 'see the disk: line of its file system');
});

test('live_dir: missing is fine (the hook makes it), unwritable fails with the fix', (t) => {
  const f = healthy();
  t.like(byName(f)['live-dir'], { status: 'ok', message: '/var/log/libvirt/qemu writable (live_dir)' });
  f.live = { path: '/var/log/libvirt/qemu', problem: 'ENOENT: missing' };
  t.like(byName(f)['live-dir'], { status: 'ok' });
  t.regex(byName(f)['live-dir']!.message, /does not exist yet/);
  f.live = { path: '/var/log/libvirt/qemu', problem: 'EACCES: permission denied' };
  t.like(byName(f)['live-dir'], { status: 'fail' });
  t.regex(byName(f)['live-dir']!.fix!, /a directory root can write/);
  t.is(problemCount(evaluate(f)), 1);
});

test('disks: every file system of the store and state; read-only and full fail, nearly full warns', (t) => {
  const archive = {
    mountPoint: '/var/log/libvirt/consolelog/1234/archive',
    fsType: 'xfs',
    holds: ['1234/archive of log_root'],
    readOnly: false,
    problem: undefined,
    freeBytes: 10 * 1024 ** 3,
    totalBytes: 100 * 1024 ** 3,
    freeInodes: 500,
    totalInodes: 1000,
  };
  const f = healthy();
  f.filesystems.push({ ...archive });
  const disk = () => byName(f)['disk:/var/log/libvirt/consolelog/1234/archive']!;
  t.like(disk(), { status: 'ok' });
  t.regex(disk().message, /^xfs holding 1234\/archive of log_root: writable, /);
  t.regex(disk().message, /10\.0 GiB free of 100\.0 GiB, 500 of 1000 inodes free/);

  f.filesystems[1] = { ...archive, readOnly: true };
  t.like(disk(), { status: 'fail' });
  t.regex(disk().message, /mounted read-only, seals there fail: a start that truncates a log loses the boot/);
  t.regex(disk().fix!, /^mount -o remount,rw \/var\/log\/libvirt\/consolelog\/1234\/archive /);
  f.filesystems[1] = { ...archive, problem: 'EROFS: read-only file system' };
  t.like(disk(), { status: 'fail' }, 'EROFS from the write probe alone');
  t.regex(disk().fix!, /remount,rw/);

  f.filesystems[1] = { ...archive, freeBytes: 0, problem: 'ENOSPC: no space left on device' };
  t.like(disk(), { status: 'fail' });
  t.regex(disk().message, /full \(0 B free of 100\.0 GiB/);
  t.regex(disk().fix!, /free space on \/var\/log\/libvirt\/consolelog\/1234\/archive/);
  f.filesystems[1] = { ...archive, freeBytes: 512 * 1024 };
  t.like(disk(), { status: 'fail' }, 'under 1 MiB is full: a seal would fail');
  f.filesystems[1] = { ...archive, freeInodes: 0 };
  t.like(disk(), { status: 'fail' }, 'no inode left is full');
  f.filesystems[1] = { ...archive, freeInodes: 0, totalInodes: 0 };
  t.like(disk(), { status: 'ok' }, 'no inode limit (btrfs)');
  f.filesystems[1] = { ...archive, problem: 'EACCES: permission denied' };
  t.like(disk(), { status: 'fail', fix: 'make /var/log/libvirt/consolelog/1234/archive writable by root' });

  f.filesystems[1] = { ...archive, freeBytes: 4 * 1024 ** 3 };
  t.like(disk(), { status: 'warn' }, 'under 5 % free');
  f.filesystems[1] = { ...archive, freeBytes: 32 * 1024 ** 2, totalBytes: 100 * 1024 ** 2 };
  t.like(disk(), { status: 'warn' }, 'less than one domain may use');
  t.regex(disk().message, /nearly full \(32\.0 MiB free of 100\.0 MiB.*one domain may use 64\.0 MiB\)/);
  t.is(problemCount(evaluate(f)), 0, 'warnings are not problems');
  f.domainCapBytes = 0;
  t.like(disk(), { status: 'ok' }, 'no cap, plenty left in share');
});

test('transfer key: needed with ssh peers, a warning without; group/other access refused', (t) => {
  const f = healthy();
  f.key.exists = false;
  t.like(byName(f).key, { status: 'fail', fix: 'virt-consolelog keys --generate' });
  f.configuredPeers = [];
  f.peers = [];
  t.like(byName(f).key, { status: 'warn' });
  const g = healthy();
  g.key.mode = 0o644;
  t.regex(byName(g).key!.message, /mode 0644/);
  const h = healthy();
  h.transport = 'command';
  h.key.exists = false;
  t.is(byName(h).key!.status, 'warn');
});

test('peers: one check each; unreachable and refusing peers get different fixes; none or skipped', (t) => {
  const f = healthy();
  f.configuredPeers = ['hostb', 'hostc'];
  f.peers = [
    { name: 'hostb', problem: 'ssh failed (exit 255): Connection refused', unreachable: true, ms: 3 },
    { name: 'hostc', problem: 'ssh failed (exit 1): unknown request', unreachable: false, ms: 50 },
  ];
  const c = byName(f);
  t.regex(c['peer:hostb']!.fix!, /authorized_keys/);
  t.regex(c['peer:hostc']!.fix!, /forced command on hostc/);
  t.is(problemCount(evaluate(f)), 2);
  f.peers = undefined;
  t.like(byName(f).peers, { status: 'skip', message: 'peer probes skipped (--no-peers)' });
  f.configuredPeers = [];
  t.like(byName(f).peers, { status: 'skip' });
});

test('config errors are a problem; the report ends with the count and shows each fix', (t) => {
  const f = healthy();
  f.configErrors = ['line 3: retention_days: not an integer'];
  f.hooks[0]!.executable = false;
  const report = formatReport(evaluate(f));
  t.regex(report, /^FAIL {2}config +\/etc\/virt-consolelog\/virt-consolelog\.conf: line 3/m);
  t.regex(report, /^ +fix: chmod 0755 /m);
  t.regex(report, /\n2 problems found\.\n$/);
});
