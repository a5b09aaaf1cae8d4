// The automatic mode's hook side: `prepare begin` schedules the detached job and returns before the
// job touches libvirt; `started begin` (and `stopped end`) cost nothing and do nothing. Runs the built hook (dist/) the way libvirt does: argv, XML on stdin,
// minimal environment; `virsh` is a stand-in that records who its caller's parent is.
import test from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const hookJs = path.join(repoRoot, 'dist/hook.mjs');
const cliJs = path.join(repoRoot, 'dist/virt-consolelog.mjs');
const UUID = '5b2c2e3a-9d7e-4e55-8d8a-1f0e6c1b2a3d';

const guestXml = `<domain type='qemu'>
  <name>auto1</name>
  <uuid>${UUID}</uuid>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <serial type='pty'><target type='isa-serial' port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>
`;

interface Lab {
  dir: string;
  env: NodeJS.ProcessEnv;
  virshLog: string;
}

function setUp(autoEnable: boolean): Lab {
  const dir = mkdtempSync(path.join(tmpdir(), 'vcl-started-'));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const virshLog = path.join(dir, 'virsh.log');
  // The job's first libvirt call: record the job's parent (the hook while it lives) and fail as
  // "no such domain" so the job ends at once.
  writeFileSync(
    path.join(bin, 'virsh'),
    `#!/bin/sh
jobppid=$(awk '/^PPid:/ {print $2}' /proc/$PPID/status)
nice=$(awk '{print $19}' /proc/$PPID/stat)
echo "job=$PPID jobppid=$jobppid nice=$nice args=$*" >> '${virshLog}'
sleep 2
echo "virsh-end" >> '${virshLog}'
echo "error: failed to get domain '$2'" >&2
exit 1
`,
  );
  chmodSync(path.join(bin, 'virsh'), 0o755);
  const conf = path.join(dir, 'virt-consolelog.conf');
  writeFileSync(
    conf,
    [
      `state_dir = "${dir}/state"`,
      `log_root = "${dir}/store"`,
      `live_dir = "${dir}/live"`,
      `host_name = "testhost"`,
      `auto_enable = ${autoEnable ? 1 : 0}`,
      '',
    ].join('\n'),
  );
  return {
    dir,
    virshLog,
    env: {
      LC_ALL: 'C',
      PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
      VIRT_CONSOLELOG_CONFIG: conf,
      VIRT_CONSOLELOG_CLI: cliJs,
    },
  };
}

/** Runs the hook like libvirt: waits for exit AND for EOF on its stdout/stderr. */
function runHook(
  lab: Lab,
  xml: string,
  event: string[] = ['prepare', 'begin', '-'],
): Promise<{ pid: number; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [hookJs, 'auto1', ...event], {
      env: lab.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    // 'close' fires only once every holder of the pipes is gone: a job keeping fd 1/2 would delay it.
    child.on('close', (code) => resolve({ pid: child.pid as number, code, stdout, stderr }));
    child.stdin.end(xml);
  });
}

async function waitFor(file: string, ms: number): Promise<string | undefined> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      if (text.includes('\n')) return text;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

test.before(() => {
  if (!existsSync(hookJs) || !existsSync(cliJs))
    throw new Error('run `npm run build` first (dist/ is missing)');
});

test('prepare begin schedules the job detached; the hook exits before the job calls virsh', async (t) => {
  const lab = setUp(true);
  t.teardown(() => rmSync(lab.dir, { recursive: true, force: true }));
  const hook = await runHook(lab, guestXml);
  // EOF on the hook's stdout/stderr came while the job was still at work: it does not hold them.
  const atClose = existsSync(lab.virshLog) ? readFileSync(lab.virshLog, 'utf8') : '';
  t.false(atClose.includes('virsh-end'), 'the hook pipes stayed open until the job ended');
  t.is(hook.code, 0);
  t.is(hook.stdout, '');
  t.is(hook.stderr, '');
  const log = await waitFor(lab.virshLog, 30_000);
  t.truthy(log, 'the job ran virsh');
  const first = /job=(\d+) jobppid=(\d+) nice=(\d+) args=(.*)/.exec(log ?? '');
  t.truthy(first);
  // When the job first touched libvirt its parent was no longer the hook: the hook had exited.
  t.not(Number(first?.[2]), hook.pid);
  // Background work: the lowest CPU priority, so it never slows the start it follows.
  t.is(first?.[3], '19');
  // Its first question is whether the guest runs yet: it waits for the start the hook is part of.
  t.regex(first?.[4] ?? '', /^domstate /);
  // The job released its one-per-domain pid file when it ended.
  const pidFile = path.join(lab.dir, 'state/domains', UUID, 'auto-enable.pid');
  const until = Date.now() + 20_000;
  while (existsSync(pidFile) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  t.false(existsSync(pidFile));
});

test('auto_enable = 0: no job, libvirt never called', async (t) => {
  const lab = setUp(false);
  t.teardown(() => rmSync(lab.dir, { recursive: true, force: true }));
  const hook = await runHook(lab, guestXml);
  t.is(hook.code, 0);
  t.is(hook.stderr, '');
  // Give a wrongly started job the same time the test above allows it.
  t.is(await waitFor(lab.virshLog, 3000), undefined);
});

test('a domain disabled on this host is left alone', async (t) => {
  const lab = setUp(true);
  t.teardown(() => rmSync(lab.dir, { recursive: true, force: true }));
  // Written where a host before per-domain state folders kept it: the hook moves it and obeys it.
  mkdirSync(path.join(lab.dir, 'state/definitions/disabled'), { recursive: true });
  writeFileSync(path.join(lab.dir, 'state/definitions/disabled', UUID), 'x\n');
  const hook = await runHook(lab, guestXml);
  t.is(hook.code, 0);
  t.is(await waitFor(lab.virshLog, 3000), undefined);
  t.true(existsSync(path.join(lab.dir, 'state/domains', UUID, 'disabled')));
  t.false(existsSync(path.join(lab.dir, 'state/definitions')));
});

test('started begin and stopped end do nothing: no job, no store, no journal', async (t) => {
  const lab = setUp(true);
  t.teardown(() => rmSync(lab.dir, { recursive: true, force: true }));
  for (const event of [
    ['started', 'begin', '-'],
    ['stopped', 'end', '-'],
  ]) {
    const hook = await runHook(lab, guestXml, event);
    t.is(hook.code, 0);
    t.is(hook.stdout + hook.stderr, '');
  }
  t.is(await waitFor(lab.virshLog, 3000), undefined);
  t.false(existsSync(path.join(lab.dir, 'store')));
  t.false(existsSync(path.join(lab.dir, 'state/journal.log')));
});
