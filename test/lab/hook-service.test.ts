// Lab (issue 20): with `virt-consolelog collect` running on both hosts, as the packages run it,
// libvirt's own hook calls are answered by the service: a Nova-style guest (file serial, truncated
// at each start) boots twice on lab-a and migrates live to lab-b; every prepare, release and migrate
// event is journalled by the service's process, the second start sealed the first boot (the history
// holds both, complete), and the guest arrives on lab-b with the rewritten pty + append log; the
// command's `show` is answered by the service too. Then with the service stopped the same events
// start Node again.
import test from 'ava';
import { checkHistory, summarise } from './checker.js';
import { createGuest, type Guest } from './guest.js';
import { CLI_JS, DIST, lazyLab, type LabHost, type RunPromise } from './harness.js';
import * as s from './scenario.js';
import { SERVICE_NOTE as NOTE } from '../../src/lifecycle/run.js';

const lab = lazyLab({ hosts: ['lab-a', 'lab-b'], config: 'auto_enable = 0\n' });
test.after.always(() => lab.stop());

const JOURNAL = '/var/lib/virt-consolelog/journal.log';
const SERVICE_PID = '/run/virt-consolelog/hook-server/pid';

interface Entry {
  domain: string;
  op: string;
  subop: string;
  pid: number;
  notes: string[];
  problems: string[];
}

function journal(host: LabHost, name: string): Entry[] {
  return s
    .readInside(host, JOURNAL)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Entry)
    .filter((e) => e.domain === name);
}

const services = new Map<string, RunPromise>();

async function startService(host: LabHost): Promise<number> {
  const p = host.exec([process.execPath, CLI_JS, 'collect']);
  services.set(host.name, p);
  await s.waitFor(
    'the service answers hook events',
    () => s.readInside(host, SERVICE_PID).trim() || undefined,
    {
      timeoutMs: 60_000,
      intervalMs: 100,
    },
  );
  return p.pid as number;
}

async function stopService(host: LabHost): Promise<void> {
  const p = services.get(host.name);
  services.delete(host.name);
  p?.kill('SIGTERM');
  await p;
}

test.after.always(async () => {
  for (const p of services.values()) p.kill('SIGKILL');
});

test.serial('lab: libvirt hook events answered by collect: two boots, a live migration', async (t) => {
  const l = await lab.get();
  const a = l.host('lab-a');
  const b = l.host('lab-b');
  const pidA = await startService(a);
  const pidB = await startService(b);
  const g: Guest = await createGuest(l, { name: 'svc1', serial: 'file' });

  await s.defineAndStart(a, g);
  const first = await s.waitForSeq(() => s.readInside(a, g.serialPath!), { minLast: 20 });
  await s.destroy(a, g.name);
  await s.start(a, g.name); // truncates the file serial: prepare begin must have sealed boot 1
  await s.waitForSeq(() => s.readInside(a, g.serialPath!), { minLast: 20, notBoots: [first.boots[0]!.boot] });

  await s.prepareSerialDir(b, g); // as Nova's pre_live_migration does
  await s.migrate(a, b, g.name, l);
  t.is(await s.domState(b, g.name), 'running');
  const xml = await b.virsh('dumpxml', g.name);
  t.regex(xml, /<serial type='pty'>[\s\S]*?<log file='[^']+' append='on'\/>/, 'rewritten on arrival');

  const onA = journal(a, g.name);
  const onB = journal(b, g.name);
  t.log(onA.map((e) => `a: ${e.op} ${e.subop} pid ${e.pid}`).join('\n'));
  t.log(onB.map((e) => `b: ${e.op} ${e.subop} pid ${e.pid}`).join('\n'));
  const events = (es: Entry[]) => es.map((e) => `${e.op} ${e.subop}`);
  t.deepEqual(events(onA), ['prepare begin', 'release end', 'prepare begin', 'release end']);
  t.deepEqual(events(onB), ['migrate begin', 'prepare begin']);
  for (const [es, pid] of [
    [onA, pidA],
    [onB, pidB],
  ] as const)
    for (const e of es) {
      t.true(e.notes.includes(NOTE), JSON.stringify(e));
      t.is(e.pid, pid, 'run in the service process');
      t.deepEqual(e.problems, []);
    }

  // Both boots on lab-a are in the store, complete (the second up to where the migration left).
  const shown = await a.cli('show', g.name);
  t.is(shown.exitCode, 0, shown.stderr);
  const history = checkHistory(shown.stdout);
  t.log(summarise(history));
  t.is(history.boots.length, 2);
  t.true(history.boots.every((x) => x.complete));

  // The command's `show` into a pipe is answered there too: its launcher prints the service's output
  // file and starts no Node (sh -x traces it), byte for byte what the CLI prints itself.
  const plain = await a.cli('show', '-n', '100', g.name);
  const served = await a.exec(['sh', '-x', `${DIST}/virt-consolelog`, 'show', '-n', '100', g.name]);
  t.is(served.exitCode, 0, served.stderr);
  t.is(served.stdout, plain.stdout);
  t.regex(served.stderr, /^\+ cat \/run\/virt-consolelog\/hook-server\/\d+\.out$/m);
  t.notRegex(served.stderr, /^\+ exec /m, 'no Node started');

  // The service stopped: libvirt's next event starts Node, as before the service existed.
  await stopService(b);
  await s.destroy(b, g.name);
  const last = journal(b, g.name).pop();
  t.is(last?.op, 'release');
  t.false(last?.notes.includes(NOTE));
  t.not(last?.pid, pidB);
  await stopService(a);
});
