// Lab: `enable` / `disable` by hand (auto_enable = 0) on a real libvirtd. A guest defined with a
// plain pty serial and started with `virsh start` is not logged; after `enable` its next boot is
// logged through virtlogd in the store and `virsh console` still attaches; `disable` gives back
// the original chardev elements byte for byte.
import test from 'ava';
import { chardevElements } from '../../src/definitions/devices.js';
import { startLab, type Lab, type LabHost } from './harness.js';
import { createGuest, livePath } from './guest.js';
import { checkHistory } from './checker.js';
import {
  consoleReadLine,
  createTransient,
  define,
  destroy,
  readInside,
  start,
  waitForSeq,
} from './scenario.js';

let lab: Lab;
let host: LabHost;

test.before(async () => {
  lab = await startLab({ hosts: ['lab-a'], config: 'auto_enable = 0\n' });
  host = lab.host('lab-a');
});
test.after.always(async () => {
  await lab?.stop();
});

const chardevsOf = (xml: string) => chardevElements(xml).map((e) => e.text);

test.serial(
  'enable: next boot logged in the store, console attaches; disable restores byte for byte',
  async (t) => {
    const g = await createGuest(lab, { name: 'plainpty', serial: 'pty' });
    await define(host, g);
    await start(host, g.name);
    const storeLog = livePath(g.uuid);

    const inactiveBefore = await host.virsh('dumpxml', '--inactive', '--security-info', g.name);
    const liveBefore = await host.virsh('dumpxml', g.name);
    t.notRegex(inactiveBefore, /<log /, 'defined without a log');
    const st0 = await host.cli('status', g.name);
    t.regex(
      st0.stdout,
      /definition: neither persistent definition nor live XML captured \(serial0: no <log>\)/,
      st0.stdout + st0.stderr,
    );

    // --dry-run prints a diff and changes nothing.
    const dry = await host.cli('enable', '--dry-run', g.name);
    t.is(dry.exitCode, 0, dry.stderr);
    t.regex(
      dry.stdout,
      /^\+\s*<log file='\/var\/log\/libvirt\/qemu\/[0-9a-f-]{36}\.serial0\.console' append='on'\/>$/m,
    );
    t.regex(dry.stdout, /^--- plainpty \(persistent definition\)$/m);
    t.is(await host.virsh('dumpxml', '--inactive', '--security-info', g.name), inactiveBefore);

    const en = await host.cli('enable', g.name);
    t.is(en.exitCode, 0, en.stderr);
    t.regex(
      en.stdout,
      /plainpty: enabled \(serial0 logged in append mode\); takes effect at next start \(running now: not restarted/,
    );
    // The running guest is untouched: same live XML, no restart.
    t.is(await host.virsh('dumpxml', g.name), liveBefore);
    const inactiveEnabled = await host.virsh('dumpxml', '--inactive', '--security-info', g.name);
    t.regex(inactiveEnabled, new RegExp(`<log file='${storeLog}' append='on'/>`));
    t.regex(inactiveEnabled, /<vcl:original>/);

    // status tells the persistent definition from the live XML.
    const st = await host.cli('status', g.name);
    t.is(st.exitCode, 0, st.stderr);
    t.regex(
      st.stdout,
      /definition: persistent definition captured, takes effect at next start; live XML not \(serial0: no <log>\)/,
    );

    // Idempotent: a second enable (libvirt's own formatting of our XML) changes nothing.
    const again = await host.cli('enable', g.name);
    t.is(again.exitCode, 0, again.stderr);
    t.regex(again.stdout, /plainpty: already enabled, nothing changed/);
    t.is(await host.virsh('dumpxml', '--inactive', '--security-info', g.name), inactiveEnabled);

    // This (first) boot was not logged; the next one is, through virtlogd, in the store.
    t.is(readInside(host, storeLog), '');
    await destroy(host, g.name);
    await start(host, g.name);
    const live = await host.virsh('dumpxml', g.name);
    t.regex(live, new RegExp(`<log file='${storeLog}' append='on'/>`));
    t.regex(live, /<serial type='pty'>/);
    const logged = await waitForSeq(() => readInside(host, storeLog), { minLast: 20 });
    t.is(logged.boots.length, 1);
    // virtlogd holds the log file open: that is who writes it.
    const virtlogd = host.virtlogdPid();
    t.truthy(virtlogd);
    const held = await host.exec([
      'sh',
      '-c',
      `ls -l /proc/${virtlogd}/fd | grep -c serial0.console || true`,
    ]);
    t.not(held.stdout.trim(), '0');
    // The interactive console still works on the logged pty.
    const read = await consoleReadLine(lab, host, g.name);
    t.is(read.boot as string | undefined, logged.boots[0]?.boot);

    // disable: the original chardev elements come back byte for byte, our metadata goes.
    const dis = await host.cli('disable', g.name);
    t.is(dis.exitCode, 0, dis.stderr);
    t.regex(
      dis.stdout,
      /plainpty: disabled \(2 original chardev element\(s\) restored\); takes effect at next start/,
    );
    const inactiveAfter = await host.virsh('dumpxml', '--inactive', '--security-info', g.name);
    t.deepEqual(chardevsOf(inactiveAfter), chardevsOf(inactiveBefore));
    t.notRegex(inactiveAfter, /virt-consolelog\.org/);
    t.is(inactiveAfter, inactiveBefore, 'the whole definition is back');
    const again2 = await host.cli('disable', g.name);
    t.is(again2.exitCode, 0);
    t.regex(again2.stdout, /not enabled by virt-consolelog/);
    await destroy(host, g.name);
    const history = checkHistory(readInside(host, storeLog));
    t.true(history.boots.length >= 1);
  },
);

test.serial('enable --all, unknown domains, bad command lines', async (t) => {
  const g1 = await createGuest(lab, { name: 'all1', serial: 'pty' });
  const g2 = await createGuest(lab, { name: 'all2', serial: 'file-libvirt' });
  await define(host, g1);
  await define(host, g2);
  const all = await host.cli('enable', '--all');
  t.is(all.exitCode, 0, all.stderr);
  t.regex(all.stdout, /all1: enabled/);
  t.regex(all.stdout, /all2: enabled/);
  t.regex(all.stdout, /takes effect at next start/);
  const x2 = await host.virsh('dumpxml', '--inactive', g2.name);
  // type='file' became an interactive pty; the old file path keeps being the log.
  t.regex(x2, /<serial type='pty'>/);
  t.regex(x2, new RegExp(`<log file='/var/log/libvirt/qemu/all2-serial0.log' append='on'/>`));
  const missing = await host.cli('enable', 'no-such-guest');
  t.is(missing.exitCode, 3);
  t.regex(missing.stderr, /no-such-guest: no such domain/);
  const mixed = await host.cli('disable', 'all1', 'no-such-guest');
  t.is(mixed.exitCode, 4);
  const bad = await host.cli('enable');
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /no domain given/);
  const both = await host.cli('enable', '--all', 'all1');
  t.is(both.exitCode, 2);
  // A transient domain is never made persistent behind its creator's back.
  const tr = await createGuest(lab, { name: 'transient1', serial: 'pty' });
  await createTransient(host, tr);
  const tre = await host.cli('enable', tr.name);
  t.is(tre.exitCode, 1);
  t.regex(tre.stderr, /transient1: transient domain, no persistent definition to enable/);
  t.regex(await host.virsh('dominfo', tr.name), /Persistent:\s+no/);
  await destroy(host, tr.name);
});
