// The auto-enable job's waiting, retrying and giving up, against a stand-in `virsh` (the real
// thing runs in test/lab/definitions-auto.test.ts); virt-xml-validate is the real one.
import test from 'ava';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULTS, type Config } from '../../src/config/schema.js';
import { runAutoEnable, type AutoJobOptions } from '../../src/definitions/auto.js';
import { pendingJobCount, pidFilePath, takeJobLock } from '../../src/definitions/job-lock.js';
import { setOptOut } from '../../src/definitions/optout.js';

const UUID = '3d0a0b6e-7c1f-4f0e-9a55-0123456789ab';
const XML = `<domain type='qemu'>
  <name>job1</name>
  <uuid>${UUID}</uuid>
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <serial type='pty'>
      <target port='0'/>
    </serial>
  </devices>
</domain>
`;

interface Fake {
  dir: string;
  config: Config;
  calls(): string[];
  opts(extra?: Partial<AutoJobOptions>): AutoJobOptions & { slept: number[]; notes: string[] };
}

/**
 * `define` fails as busy `busyDefines` times, then works. `jobs` gives domjobinfo's answer per call
 * (J = a job runs, N = none, D = this host is the destination of a running migration, which libvirt
 * answers with an error, T = no answer in time, K = libvirtd dropped the connection); `states` domstate's (R running, S shut off, P still starting: libvirt's
 * state while a start holds the domain's job). The last letter repeats.
 */
function fake(t: import('ava').ExecutionContext, busyDefines: number, jobs = 'N', states = 'R'): Fake {
  const dir = mkdtempSync(path.join(tmpdir(), 'vcl-auto-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'bin'));
  writeFileSync(path.join(dir, 'domain.xml'), XML);
  // The running guest's live XML: never changed by define.
  writeFileSync(path.join(dir, 'live.xml'), XML);
  const log = path.join(dir, 'calls');
  writeFileSync(
    path.join(dir, 'bin/virsh'),
    `#!/bin/sh
echo "$*" >> '${log}'
n() { c=$(cat "${dir}/$1" 2>/dev/null || echo 0); echo $((c+1)) > "${dir}/$1"; echo $c; }
case "$1" in
  domjobinfo)
    i=$(n jobs); p='${jobs}'; [ "$i" -ge \${#p} ] && i=$((\${#p} - 1))
    case "$(printf %s "$p" | cut -c$((i + 1)))" in
      J) echo "Job type:         Unbounded" ;;
      D) echo "error: Operation not supported: migration statistics are available only on the source host" >&2; exit 1 ;;
      T) exec sleep 600 ;;
      K) echo "error: Disconnected from qemu:///system due to keepalive timeout" >&2
         echo "error: internal error: connection closed due to keepalive timeout" >&2; exit 1 ;;
      *) echo "Job type:         None" ;;
    esac ;;
  dominfo) echo "Name:           job1"; echo "Persistent:     yes" ;;
  domstate)
    i=$(n states); p='${states}'; [ "$i" -ge \${#p} ] && i=$((\${#p} - 1))
    case "$(printf %s "$p" | cut -c$((i + 1)))" in
      S) echo "shut off (destroyed)" ;;
      P) echo "paused (starting up)" ;;
      *) echo "running (booted)" ;;
    esac ;;
  dumpxml) case "$*" in *--inactive*) cat '${dir}/domain.xml' ;; *) cat '${dir}/live.xml' ;; esac ;;
  define)
    if [ "$(n defines)" -lt ${busyDefines} ]; then
      echo "error: Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainCreate)" >&2; exit 1
    fi
    cp "$2" '${dir}/domain.xml' ;;
  metadata) ;;
  *) echo "error: unexpected $1" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(path.join(dir, 'bin/virsh'), 0o755);
  const config = {
    ...structuredClone(DEFAULTS),
    hostName: 'hosta',
    stateDir: path.join(dir, 'state'),
  } as Config;
  return {
    dir,
    config,
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
    opts(extra = {}) {
      const slept: number[] = [];
      const notes: string[] = [];
      return {
        virsh: { env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } },
        attempts: 4,
        firstDelayMs: 1000,
        maxDelayMs: 3000,
        startWaitMs: 60_000,
        jobWaitMs: 60_000,
        sleep: async (ms: number) => void slept.push(ms),
        note: (l: string) => void notes.push(l),
        now: () => new Date('2026-01-01T00:00:00Z'),
        slept,
        notes,
        ...extra,
      };
    },
  };
}

test('busy domain: retried with backoff until define works; origin hint recorded', async (t) => {
  const f = fake(t, 2);
  const o = f.opts();
  const r = await runAutoEnable(UUID, f.config, o);
  t.deepEqual(r, { outcome: 'enabled', hint: 'set' });
  t.is(f.calls().filter((c) => c.startsWith('define')).length, 3);
  t.deepEqual(o.slept, [100, 1000, 2000]);
  t.regex(
    readFileSync(path.join(f.dir, 'domain.xml'), 'utf8'),
    /<log file='\/var\/log\/libvirt\/qemu\/[0-9a-f-]{36}\.serial0\.console' append='on'\/>/,
  );
  const meta = f.calls().find((c) => c.startsWith('metadata'));
  t.regex(
    meta ?? '',
    /--uri http:\/\/virt-consolelog\.org\/xmlns\/consolelog\/1\.0 --key vcl --set <consolelog><host name="hosta" generation="0"\/><\/consolelog> --live/,
  );
});

test('gives up cleanly after the bound, backoff capped', async (t) => {
  const f = fake(t, 100);
  const o = f.opts();
  const r = await runAutoEnable(UUID, f.config, o);
  t.is(r.outcome, 'gave-up');
  t.is(f.calls().filter((c) => c.startsWith('define')).length, 4);
  t.deepEqual(o.slept, [100, 1000, 2000, 3000]);
  t.true(o.notes.includes('gave up after 4 attempt(s)'));
});

test('waits for the domain job to end before defining', async (t) => {
  const f = fake(t, 0, 'JJJN');
  const o = f.opts();
  const r = await runAutoEnable(UUID, f.config, o);
  t.is(r.outcome, 'enabled');
  const calls = f.calls();
  // Three polls while the job runs, one idle, one more right before the define.
  t.is(calls.filter((c) => c.startsWith('domjobinfo')).length, 5);
  t.true(calls.findIndex((c) => c.startsWith('define')) > calls.lastIndexOf('domjobinfo ' + UUID));
  t.deepEqual(o.slept, [100, 200, 400, 800]);
});

test('the destination of a running migration waits for it to end (libvirt reports that job as an error)', async (t) => {
  const f = fake(t, 0, 'DDN');
  const o = f.opts();
  const r = await runAutoEnable(UUID, f.config, o);
  t.is(r.outcome, 'enabled', o.notes.join('\n'));
  t.true(o.notes.some((n) => /domain job "Incoming migration" running; waiting/.test(n)));
  t.deepEqual(o.slept, [100, 200, 400]);
});

test('started at prepare begin: the job waits until the guest runs before it defines', async (t) => {
  // Shut off until QEMU runs, then "paused (starting up)" while libvirt's start still holds the
  // domain's job (a define then fails on the state change lock), then running.
  const f = fake(t, 0, 'N', 'SSPPR');
  const o = f.opts();
  const r = await runAutoEnable(UUID, f.config, o);
  t.is(r.outcome, 'enabled');
  const calls = f.calls();
  const before = calls.slice(
    0,
    calls.findIndex((c) => c.startsWith('define')),
  );
  t.is(before.filter((c) => c === `domstate --reason ${UUID}`).length, 5);
  // It cannot run yet when the job starts: even the first question comes after a pause.
  t.deepEqual(o.slept, [100, 200, 400, 800, 1600]);
  // A guest that never comes up (its start failed) still gets its definition enabled, after the bound.
  const g = fake(t, 0, 'N', 'S');
  const og = g.opts({ startWaitMs: 1 });
  t.is((await runAutoEnable(UUID, g.config, og)).outcome, 'enabled');
  t.true(og.notes.some((n) => /not running after 1 ms: its definition is enabled anyway/.test(n)));
  const h = fake(t, 0, 'N', 'P');
  const oh = h.opts({ startWaitMs: 1 });
  t.is((await runAutoEnable(UUID, h.config, oh)).outcome, 'enabled');
  t.true(oh.notes.some((n) => /still starting after 1 ms: its definition is enabled anyway/.test(n)));
});

test('many jobs on the host share libvirt: each waits its share between questions', async (t) => {
  // 200 guests started at once: 200 jobs, each asking libvirt every 200 x 500 ms on average, so that
  // together they ask about twice a second instead of a hundred times (BENCHMARKS.md, scale).
  const f = fake(t, 1, 'JN', 'SR');
  let asked = 0;
  // Spread over half to one and a half times the share: the storm's jobs do not ask all at once.
  const spread = [0, 0.5, 0.999, 0.25];
  const o = f.opts({
    pendingJobs: async () => (asked++, 200),
    shareMs: 500,
    random: () => spread.shift() ?? 0.5,
  });
  t.is((await runAutoEnable(UUID, f.config, o)).outcome, 'enabled');
  // Start wait (2 pauses), idle wait (1), the busy define's retry delay (1), the second idle check.
  t.deepEqual(o.slept, [50_000, 100_000, 149_900, 75_000]);
  t.is(asked, 4);
  // Alone on the host the share is below the job's own delays: they are kept.
  const g = fake(t, 1, 'N', 'R');
  const og = g.opts({ pendingJobs: async () => 1, shareMs: 500, random: () => 0.5 });
  t.is((await runAutoEnable(UUID, g.config, og)).outcome, 'enabled');
  t.deepEqual(og.slept, [500, 1000]);
});

test('a libvirtd too busy to answer in time is waited for like a busy domain, not given up on', async (t) => {
  // In the 200-guest storm a `virsh domjobinfo` got no answer for 120 s; the job then gave up at once.
  const f = fake(t, 0, 'TTN', 'R');
  const o = f.opts();
  // The T answers never come; every other call has 5 s, far more than a loaded machine needs.
  o.virsh = { ...o.virsh, timeoutMs: 5000 };
  const r = await runAutoEnable(UUID, f.config, o);
  t.is(r.outcome, 'enabled', o.notes.join('\n'));
  t.true(
    o.notes.some((n) => /attempt 1: virsh domjobinfo .*timed out/i.test(n)),
    o.notes.join('\n'),
  );
  t.deepEqual(o.slept, [100, 1000, 2000]);
  // The start is not waited for again after a failed attempt: the guest was seen running.
  t.is(f.calls().filter((c) => c.startsWith('domstate --reason')).length, 1);
});

test('a connection libvirtd dropped (keepalive timeout) is retried like a busy domain, not given up on', async (t) => {
  // In a 200-guest warm-up 23 of 200 jobs gave up on their first such error (BENCHMARKS.md).
  const f = fake(t, 0, 'KKN', 'R');
  const o = f.opts();
  const r = await runAutoEnable(UUID, f.config, o);
  t.is(r.outcome, 'enabled', o.notes.join('\n'));
  t.true(
    o.notes.some((n) => /attempt 1: virsh domjobinfo .*keepalive timeout/.test(n)),
    o.notes.join('\n'),
  );
  t.deepEqual(o.slept, [100, 1000, 2000]);
});

test('a job that stops early says after how many attempts', async (t) => {
  const f = fake(t, 0, 'N', 'R');
  // A definition virt-xml-validate refuses (an element libvirt does not know): no retry.
  writeFileSync(
    path.join(f.dir, 'domain.xml'),
    XML.replace('<name>job1</name>', '<name>job1</name><bogus/>'),
  );
  const o = f.opts();
  const r = await runAutoEnable(UUID, f.config, o);
  t.is(r.outcome, 'gave-up');
  t.true(o.notes.includes('gave up after 1 attempt(s)'), o.notes.join('\n'));
});

test('a domain job that begins just before the define postpones it (no define racing a migration)', async (t) => {
  const f = fake(t, 0, 'NJN');
  const o = f.opts();
  const r = await runAutoEnable(UUID, f.config, o);
  t.is(r.outcome, 'enabled');
  t.is(f.calls().filter((c) => c.startsWith('define')).length, 1);
  t.true(
    o.notes.some((n) => /domain job "Unbounded" began; not defining now/.test(n)),
    o.notes.join('\n'),
  );
  t.deepEqual(o.slept, [100, 1000]);
});

test('an already enabled definition is left as it is; a disabled one is not touched at all', async (t) => {
  const f = fake(t, 0);
  t.is((await runAutoEnable(UUID, f.config, f.opts())).outcome, 'enabled');
  const after = readFileSync(path.join(f.dir, 'domain.xml'), 'utf8');
  t.is((await runAutoEnable(UUID, f.config, f.opts())).outcome, 'already-enabled');
  t.is(readFileSync(path.join(f.dir, 'domain.xml'), 'utf8'), after);
  const g = fake(t, 0);
  await setOptOut(g.config, UUID);
  t.deepEqual(await runAutoEnable(UUID, g.config, g.opts()), { outcome: 'opted-out', hint: 'skipped' });
  t.deepEqual(g.calls(), []);
});

test('one pending job per domain; a stale pid file is taken over', async (t) => {
  const f = fake(t, 0);
  const release = await takeJobLock(f.config, UUID);
  t.truthy(release);
  t.is(await takeJobLock(f.config, UUID), undefined);
  await release?.();
  t.false(existsSync(pidFilePath(f.config, UUID)));
  writeFileSync(pidFilePath(f.config, UUID), '999999999\n');
  const again = await takeJobLock(f.config, UUID);
  t.truthy(again);
  t.is(readFileSync(pidFilePath(f.config, UUID), 'utf8').trim(), String(process.pid));
  await again?.();
});

test('the jobs pending on the host are counted by their live pid files', async (t) => {
  const f = fake(t, 0);
  t.is(await pendingJobCount(f.config), 0);
  const release = await takeJobLock(f.config, UUID);
  const other = '9a2b1c3d-0000-4e5f-8a9b-0123456789ab';
  const stale = await takeJobLock(f.config, other);
  t.is(await pendingJobCount(f.config), 2);
  // A job that died leaves its pid file behind: not pending.
  writeFileSync(pidFilePath(f.config, other), '999999999\n');
  mkdirSync(path.join(f.config.stateDir, 'domains', 'not-a-uuid'));
  t.is(await pendingJobCount(f.config), 1);
  await release?.();
  await stale?.();
  t.is(await pendingJobCount(f.config), 0);
});
