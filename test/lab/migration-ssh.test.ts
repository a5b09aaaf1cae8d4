// Issue 5 over ssh: lab hosts in their own network namespaces (addresses 10.77.0.x on a private
// bridge, names in a private /etc/hosts), each running sshd. Each host's dedicated transfer key
// (`virt-consolelog keys --generate`) is authorized on the others with the forced read-only
// export command, exactly as the README tells operators. Then: the hop sequence over ssh, and a
// peer that is down while the guest leaves it (migration unaffected; `sync` completes later).
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkHistory } from './checker.js';
import { createGuest } from './guest.js';
import { CLI_JS, startLab, type Lab, type LabHost } from './harness.js';
import {
  assertCompleteHistory,
  fetchRecord,
  hopSequence,
  hostConfig,
  printMore,
  waitFetch,
} from './migration-common.js';
import * as s from './scenario.js';

let lab: Lab;
let a: LabHost;
let b: LabHost;

function sshdDir(h: LabHost): string {
  return join(h.dir, 'sshd');
}

async function must(h: LabHost, argv: string[]): Promise<string> {
  const r = await h.exec(argv);
  if (r.exitCode !== 0) throw new Error(`${h.name}: ${argv.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

async function startSshd(h: LabHost): Promise<void> {
  await must(h, ['mkdir', '-p', '/run/sshd']);
  await must(h, [
    '/usr/sbin/sshd',
    '-f',
    join(sshdDir(h), 'sshd_config'),
    '-E',
    join(sshdDir(h), 'sshd.log'),
  ]);
  await s.waitFor(
    `sshd on ${h.name}`,
    async () => (await h.exec(['test', '-s', join(sshdDir(h), 'sshd.pid')])).exitCode === 0,
  );
}

test.before(async () => {
  lab = await startLab({ hook: true, network: true });
  a = lab.host('lab-a');
  b = lab.host('lab-b');
  // ssh: the default transport; short timeouts keep the "peer down" case quick.
  for (const h of lab.hosts) h.writeConfig(hostConfig(lab, h, 'transfer_timeout_seconds = 10\n'));
  const lines = new Map<string, string>();
  for (const h of lab.hosts) {
    // In the lab the CLI is this checkout's build, not /usr/bin/virt-consolelog.
    const r = await h.cli('keys', '--generate', '--command', `${process.execPath} ${CLI_JS} serve-export`);
    if (r.exitCode !== 0) throw new Error(`keys on ${h.name}: ${r.stderr}`);
    lines.set(h.name, r.stdout.trim());
  }
  for (const h of lab.hosts) {
    const dir = sshdDir(h);
    mkdirSync(dir, { recursive: true });
    await must(h, ['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    const others = lab.hosts.filter((o) => o !== h).map((o) => lines.get(o.name));
    writeFileSync(join(dir, 'authorized_keys'), others.join('\n') + '\n', { mode: 0o600 });
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `ListenAddress ${h.address}`,
        'Port 22',
        `HostKey ${join(dir, 'host_key')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin forced-commands-only',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        '',
      ].join('\n'),
    );
    await startSshd(h);
  }
});

test.after.always(async () => {
  await lab?.stop();
});

test.serial('keys: the authorized_keys line forces the read-only export and restricts the key', (t) => {
  const line = readFileSync(join(sshdDir(a), 'authorized_keys'), 'utf8').trim();
  t.regex(
    line,
    /^restrict,command="\S+ \S+virt-consolelog\.mjs serve-export" ssh-ed25519 \S+ virt-consolelog@lab-b$/,
  );
});

test.serial('over ssh: A -> B -> A -> B with restarts, show on the final host has every line', async (t) => {
  const g = await hopSequence(t, lab, a, b, { name: 'viassh', serial: 'file' });
  await assertCompleteHistory(t, b, g, 3);
  t.is(fetchRecord(b, g.uuid)?.source, 'lab-a');
  const log = readFileSync(join(sshdDir(a), 'sshd.log'), 'utf8');
  t.regex(log, /Accepted publickey for root from 10\.77\.0\.2/);
  t.regex(log, /forced command/);
  // The key can do nothing but the export: any other command is the export refusing it.
  const shell = await b.exec([
    'ssh',
    '-i',
    '/var/lib/virt-consolelog/ssh/id_ed25519',
    '-o',
    'BatchMode=yes',
    '-o',
    'UserKnownHostsFile=/var/lib/virt-consolelog/ssh/known_hosts',
    '-l',
    'root',
    'lab-a',
    'cat',
    '/etc/shadow',
  ]);
  t.is(shell.exitCode, 2);
  t.regex(shell.stderr, /serve-export: refused: /);
  t.false(shell.stdout.includes('root:'));
  await b.virshResult('destroy', g.name);
});

test.serial(
  'a peer down while the guest leaves it: migration unaffected, history arrives with sync',
  async (t) => {
    const g = await createGuest(lab, { name: 'peerdown', serial: 'file' });
    await s.prepareSerialDir(b, g);
    await s.defineAndStart(a, g);
    await printMore(a, g.name);
    await must(a, ['ip', 'link', 'set', 'eth0', 'down']); // lab-a is unreachable from now on
    const started = Date.now();
    await s.migrate(a, b, g.name, lab, { persistent: true, undefineSource: true });
    t.log(`lab-a -> lab-b with lab-a unreachable: ${Date.now() - started} ms`);
    t.is(await s.domState(b, g.name), 'running');
    await printMore(b, g.name);
    const failed = await waitFetch(b, g.uuid, ['failed']);
    t.log(`fetch on lab-b while lab-a is down: ${failed.lastError}`);
    const before = await b.cli('show', g.name);
    t.true(checkHistory(before.stdout).boots[0]!.first > 0, 'without lab-a the start of the boot is missing');
    const status = await b.cli('status', g.name);
    t.log(status.stdout);

    await must(a, ['ip', 'link', 'set', 'eth0', 'up']); // lab-a is back
    await s.waitFor('lab-a reachable', async () => (await b.cli('sync', g.name)).exitCode === 0, {
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    t.is(fetchRecord(b, g.uuid)?.status, 'complete');
    await assertCompleteHistory(t, b, g, 1);
    await b.virshResult('destroy', g.name);
  },
);
