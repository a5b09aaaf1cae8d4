// Issue 2's lab test: the installed hook rewrites the XML of a guest that migrates live between two
// real libvirt hosts. A guest with an OpenStack-style type='file' serial leaves lab-a and arrives on
// lab-b as pty + <log append='on'/>: it keeps running (the sequence continues in the same boot) and
// `virsh console` attaches to it on lab-b.
import test from 'ava';
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkHistory, summarise } from './checker.js';
import { createGuest } from './guest.js';
import { lazyLab, type Lab, type LabHost } from './harness.js';
import * as s from './scenario.js';

let lab: Lab;
let a: LabHost;
let b: LabHost;

const labOnce = lazyLab({ hook: true });

// beforeEach, not before: a file whose tests are all filtered out (--match) starts no lab.
test.beforeEach(async () => {
  lab = await labOnce.get();
  a = lab.host('lab-a');
  b = lab.host('lab-b');
});

test.after.always(async () => {
  await labOnce.stop();
});

/** The first <serial> element of a domain XML. */
function firstSerial(xml: string): string {
  const m = /<serial\b[\s\S]*?<\/serial>/.exec(xml);
  if (!m) throw new Error('no <serial> in the domain XML');
  return m[0];
}

test.serial(
  "lab: migrate begin: a type='file' serial arrives as pty + <log append='on'/>, running, with virsh console",
  async (t) => {
    t.true(a.hookInstalled() && b.hookInstalled());
    const g = await createGuest(lab, { name: 'mig-file', serial: 'file' });
    await s.defineAndStart(a, g);
    const onA = await s.waitForSeq(() => s.readInside(a, g.serialPath!), { minLast: 30 });
    const boot = onA.boots[0]!.boot;
    t.regex(
      firstSerial(await a.virsh('dumpxml', g.name)),
      /<serial type='file'>/,
      'a plain start keeps the XML',
    );

    await s.prepareSerialDir(b, g); // as Nova's pre_live_migration does
    await s.migrate(a, b, g.name, lab);
    t.is(await s.domState(b, g.name), 'running');

    const xml = await b.virsh('dumpxml', g.name);
    const serial = firstSerial(xml);
    t.log(serial);
    t.regex(serial, /<serial type='pty'>/);
    const log = /<log file='([^']+)' append='on'\/>/.exec(serial);
    t.truthy(log, "the serial has <log ... append='on'/>");
    t.regex(xml, /<console type='pty'/, 'the x86 console alias follows serial0');
    const xmlFile = join(lab.dir, 'mig-file-on-b.xml');
    writeFileSync(xmlFile, xml);
    const valid = await execa('virt-xml-validate', [xmlFile, 'domain'], { reject: false });
    t.is(valid.exitCode, 0, valid.stderr || valid.stdout);

    // The guest keeps running in the same boot, and its output now goes to the log on lab-b.
    const logPath = log![1]!;
    const onB = await s.waitForSeq(() => s.readInside(b, logPath), { minLast: 1 });
    const more = await s.waitForMoreLines(() => s.readInside(b, logPath), { after: onB, more: 30 });
    t.log(`log on lab-b (${logPath}): ${summarise(more)}`);
    const last = more.boots[more.boots.length - 1]!;
    t.is(last.boot, boot, 'same boot: the counter continued in guest RAM');
    t.true(last.last > onA.boots[0]!.last);

    const c = await s.consoleReadLine(lab, b, g.name);
    t.log(`virsh console on lab-b read: ${c.line}`);
    t.is(c.boot, boot);
    t.true(c.seq > onA.boots[0]!.last);

    // Nothing of the boot was lost between the two hosts' files (the source file + the new log).
    const merged = checkHistory(s.readInside(a, g.serialPath!) + s.readInside(b, logPath));
    const mb = merged.boots.find((x) => x.boot === boot)!;
    t.log(`source file + destination log: ${summarise(merged)}`);
    t.is(mb.missing, 0);
    await s.destroy(b, g.name);
  },
);
