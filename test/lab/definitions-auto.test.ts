// Lab: the automatic mode (auto_enable = 1, the default) on a real libvirtd. A guest defined with a
// plain pty serial and started with `virsh start`: `prepare begin` schedules the detached job,
// `virsh start` is not held up by it, the job enables the persistent definition and records the
// origin hint in the live metadata; the second boot is logged in the store, `virsh console` attaches.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startLab, type Lab, type LabHost } from './harness.js';
import { createGuest, livePath } from './guest.js';
import {
  consoleReadLine,
  define,
  destroy,
  migrate,
  readInside,
  start,
  waitFor,
  waitForSeq,
} from './scenario.js';

let lab: Lab;
let host: LabHost;
const NS = 'http://virt-consolelog.org/xmlns/consolelog/1.0';

test.before(async () => {
  lab = await startLab({ hosts: ['lab-a', 'lab-b'] });
  host = lab.host('lab-a');
});
test.after.always(async () => {
  await lab?.stop();
});

function journalText(): string {
  const dir = host.paths.varLibVcl;
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (/journal/.test(e.name)) out.push(readFileSync(join(d, e.name), 'utf8'));
    }
  };
  walk(dir);
  return out.join('\n');
}

test.serial('auto mode: the next boot of a plain-pty guest is logged; console attaches', async (t) => {
  const g = await createGuest(lab, { name: 'autopty', serial: 'pty' });
  await define(host, g);
  const storeLog = livePath(g.uuid);
  // virsh start returns even though the hook started a job (its fds 0/1/2 are not libvirt's pipes).
  await start(host, g.name);
  const enabled = await waitFor(
    'the automatic job to enable the persistent definition',
    async () => {
      const x = await host.virsh('dumpxml', '--inactive', g.name);
      return x.includes(`<log file='${storeLog}' append='on'/>`) ? x : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 300 },
  );
  t.regex(enabled, /<vcl:original>/);
  // The running guest kept its live chardevs (no restart) but got the origin hint.
  const hint = await waitFor(
    'the origin hint in the live metadata',
    async () => {
      const r = await host.virshResult('metadata', g.name, '--uri', NS, '--live');
      return r.exitCode === 0 && /name="lab-a"/.test(r.stdout) ? r.stdout : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 300 },
  );
  t.regex(hint, /generation="0"/);
  const live1 = await host.virsh('dumpxml', g.name);
  t.notRegex(live1, /<log file=/);
  t.is(readInside(host, storeLog), '');
  // The job wrote what it did to the plugin's journal.
  await waitFor('the job in the journal', () => /auto-enable/.test(journalText()), { timeoutMs: 20_000 });

  // Second boot: logged through virtlogd in the store; the console still attaches.
  await destroy(host, g.name);
  await start(host, g.name);
  const logged = await waitForSeq(() => readInside(host, storeLog), { minLast: 20 });
  t.is(logged.boots.length, 1);
  const read = await consoleReadLine(lab, host, g.name);
  t.is(read.boot as string | undefined, logged.boots[0]?.boot);
  // Nothing more to do now: the definition is enabled on this host, no second job changes it.
  const before = await host.virsh('dumpxml', '--inactive', g.name);
  await new Promise((r) => setTimeout(r, 3000));
  t.is(await host.virsh('dumpxml', '--inactive', g.name), before);
  await destroy(host, g.name);
});

test.serial('auto mode leaves a disabled domain alone', async (t) => {
  const g = await createGuest(lab, { name: 'optout', serial: 'pty' });
  await define(host, g);
  const en = await host.cli('enable', g.name);
  t.is(en.exitCode, 0, en.stderr);
  const dis = await host.cli('disable', g.name);
  t.is(dis.exitCode, 0, dis.stderr);
  const original = await host.virsh('dumpxml', '--inactive', g.name);
  await start(host, g.name);
  await waitFor(
    'the hook to note the opt-out',
    () => /disabled on this host/.test(journalText()) || undefined,
    {
      timeoutMs: 20_000,
    },
  ).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 3000));
  t.is(await host.virsh('dumpxml', '--inactive', g.name), original);
  await destroy(host, g.name);
});

test.serial(
  'auto mode after a migration: the definition carried to lab-b is enabled for lab-b',
  async (t) => {
    const b = lab.host('lab-b');
    const g = await createGuest(lab, { name: 'automig', serial: 'pty' });
    await define(host, g);
    await start(host, g.name);
    const log = `<log file='${livePath(g.uuid)}' append='on'/>`;
    const enabledBy = (xml: string) => /<vcl:original>([^<]+)</.exec(xml)?.[1];
    await waitFor(
      'the definition enabled on lab-a',
      async () => (await host.virsh('dumpxml', '--inactive', g.name)).includes(log),
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    const recordOnA = enabledBy(await host.virsh('dumpxml', '--inactive', g.name));
    await migrate(host, b, g.name, lab, { persistent: true, undefineSource: true });
    // The record says "enabled on lab-a": lab-b's prepare hook schedules a job that enables it here
    // (same live path on every host: the record's host changes).
    const onB = await waitFor(
      'the definition enabled on lab-b',
      async () => {
        const x = await b.virsh('dumpxml', '--inactive', g.name);
        return x.includes(log) && enabledBy(x) !== recordOnA ? x : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    t.true(onB.includes(log));
    // The guest's own elements are still what disable gives back, on lab-b too.
    const dis = await b.cli('disable', '--dry-run', g.name);
    t.is(dis.exitCode, 0, dis.stderr);
    t.regex(dis.stdout, /^-\s*<log file='.*\.serial0\.console' append='on'\/>$/m);
    t.notRegex(dis.stdout, /^\+\s*<log /m);
    await destroy(b, g.name);
  },
);
