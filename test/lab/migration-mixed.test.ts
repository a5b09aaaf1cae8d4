// Issue 5, mixed versions: lab-b runs libvirt without the plugin (no hook). new -> old: the guest
// migrates to lab-b and keeps running; its history from before the move stays readable on lab-a.
// old -> new: back on lab-a the hook rewrites the XML again and the guest is logged again.
import test from 'ava';
import { checkHistory, summarise } from './checker.js';
import { createGuest } from './guest.js';
import { startLab, type Lab, type LabHost } from './harness.js';
import {
  commandTransport,
  fetchRecord,
  hostConfig,
  nsLinks,
  printMore,
  waitFetch,
} from './migration-common.js';
import * as s from './scenario.js';

let lab: Lab;
let a: LabHost;
let b: LabHost;

test.before(async () => {
  lab = await startLab({ hook: true });
  a = lab.host('lab-a');
  b = lab.host('lab-b');
  nsLinks(lab);
  for (const h of lab.hosts) h.writeConfig(hostConfig(lab, h, commandTransport(lab)));
  await b.removeHook(); // lab-b: a host without virt-consolelog
});

test.after.always(async () => {
  await lab?.stop();
});

test.serial('new -> old -> new: migrations succeed, the history from before stays readable', async (t) => {
  t.false(b.hookInstalled());
  const g = await createGuest(lab, { name: 'mixed', serial: 'file' });
  await s.prepareSerialDir(b, g);
  await s.defineAndStart(a, g);
  await printMore(a, g.name);
  await s.migrate(a, b, g.name, lab, { persistent: true, undefineSource: true });
  t.is(await s.domState(b, g.name), 'running', 'new -> old: the guest runs on the host without the plugin');
  await printMore(b, g.name);
  const onA = await a.cli('show', g.uuid);
  t.is(onA.exitCode, 0, onA.stderr);
  const before = checkHistory(onA.stdout);
  t.log(`show on lab-a after the guest left: ${summarise(before)}`);
  t.is(before.boots.length, 1);
  t.is(before.boots[0]!.first, 0);
  t.is(before.boots[0]!.missing, 0);
  t.true(before.boots[0]!.last > 0);

  await s.migrate(b, a, g.name, lab, { persistent: true, undefineSource: true });
  t.is(await s.domState(a, g.name), 'running', 'old -> new: back on the host with the plugin');
  const xml = await a.virsh('dumpxml', g.name);
  t.regex(xml, /<log file='[^']+' append='on'\/>/, 'the destination upgraded the XML');
  const r = await waitFetch(a, g.uuid, ['complete', 'nothing', 'failed']);
  t.log(`fetch on lab-a: ${JSON.stringify(fetchRecord(a, g.uuid))}`);
  t.not(r.status, 'running');
  await printMore(a, g.name);
  const after = checkHistory((await a.cli('show', g.uuid)).stdout);
  t.log(`show on lab-a after the return: ${summarise(after)}`);
  const boot = after.boots.find((x) => x.boot === before.boots[0]!.boot)!;
  t.true(boot.last > before.boots[0]!.last, 'logged again after the return');
  t.is(after.boots[0]!.first, 0, 'the history from before the move is still there');
  await a.virshResult('destroy', g.name);
});

// The live path is in live_dir = libvirt's own QEMU log folder, which every libvirt host has (its
// packages ship it: Debian's libvirt-daemon-system, the rpm libvirt-daemon-driver-qemu; libvirtd makes
// it at a guest's start). So a host without the plugin opens the log where the XML says (a folder
// only the plugin creates made it refuse the migration: "Unable to open file ... No such file").
test.serial(
  "new -> old with the plugin's log: the old host logs at the same path, nothing breaks",
  async (t) => {
    const g = await createGuest(lab, { name: 'mixed-store', serial: 'pty' });
    await s.define(a, g);
    t.is((await a.cli('enable', g.name)).exitCode, 0);
    await s.start(a, g.name);
    await printMore(a, g.name);
    const log = /<log file='([^']+)'/.exec(await a.virsh('dumpxml', g.name))![1]!;
    t.log(`log on lab-a: ${log}`);
    // lab-b never ran this guest: no file of it in its QEMU log folder.
    t.is((await b.exec(['test', '-e', log])).exitCode, 1);
    await s.migrate(a, b, g.name, lab, { persistent: true, undefineSource: true });
    t.is(await s.domState(b, g.name), 'running');
    await printMore(b, g.name);
    const onB = checkHistory(s.readInside(b, log));
    t.log(`lab-b's virtlogd at the same path: ${summarise(onB)}`);
    t.true(onB.seqLines > 0, "the old host's virtlogd keeps logging where the XML says");
    const onA = checkHistory((await a.cli('show', g.uuid)).stdout);
    t.is(onA.boots[0]!.first, 0);
    t.is(onA.boots[0]!.missing, 0, 'history before the move readable on lab-a');
    await b.virshResult('destroy', g.name);
  },
);
