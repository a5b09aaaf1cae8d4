// Baseline: what plain libvirt (no virt-consolelog hook) keeps today, measured with the checker.
// These assertions describe libvirt's behaviour, not ours: every later improvement is measured against
// them (docs/DESIGN.md "The problem" 2 and 4). If libvirt ever changes, these tests say so.
import test from 'ava';
import { checkHistory, summarise } from './checker.js';
import { createGuest } from './guest.js';
import { lazyLab, type Lab, type LabHost } from './harness.js';
import * as s from './scenario.js';

let lab: Lab;
let a: LabHost;
let b: LabHost;

const labOnce = lazyLab({ hook: false });

// beforeEach, not before: a file whose tests are all filtered out (--match) starts no lab.
test.beforeEach(async () => {
  lab = await labOnce.get();
  a = lab.host('lab-a');
  b = lab.host('lab-b');
});

test.after.always(async () => {
  await labOnce.stop();
});

test.serial(
  "lab: baseline: an OpenStack-style type='file' serial loses the previous boot on destroy+start",
  async (t) => {
    const g = await createGuest(lab, { name: 'base-file', serial: 'file' });
    await s.defineAndStart(a, g);
    const read = () => s.readInside(a, g.serialPath!);
    const before = await s.waitForSeq(read, { minLast: 50 });
    await s.destroy(a, g.name);
    const atStop = checkHistory(read());
    const firstBoot = atStop.boots[0]!;
    t.true(atStop.ok, 'while the guest ran, the file held its whole boot');

    await s.start(a, g.name);
    const after = await s.waitForSeq(read, { minLast: 20 });
    t.log(`before restart: ${summarise(atStop)}`);
    t.log(`after restart:  ${summarise(after)}`);
    t.is(after.boots.length, 1, 'the file holds only the new boot');
    t.not(after.boots[0]!.boot, firstBoot.boot);
    t.false(
      after.boots.some((x) => x.boot === firstBoot.boot),
      `all ${firstBoot.distinct} lines of the first boot are gone`,
    );
    t.true(before.boots[0]!.boot === firstBoot.boot);
    await s.destroy(a, g.name);
  },
);

test.serial("lab: baseline: Nova's pty + <log append='off'> also loses the previous boot", async (t) => {
  const g = await createGuest(lab, { name: 'base-nova', serial: 'nova-pty-log' });
  await s.defineAndStart(a, g);
  const read = () => s.readInside(a, g.serialPath!);
  const first = (await s.waitForSeq(read, { minLast: 30 })).boots[0]!;
  await s.destroy(a, g.name);
  await s.start(a, g.name);
  const after = await s.waitForMoreLines(read, { more: 20, after: checkHistory('') });
  t.log(summarise(after));
  t.deepEqual(
    after.boots.map((x) => x.boot).filter((x) => x === first.boot),
    [],
    'append=off truncates at every QEMU start',
  );
  await s.destroy(a, g.name);
});

test.serial(
  'lab: baseline: after live migration A -> B the history is split between the hosts',
  async (t) => {
    const g = await createGuest(lab, { name: 'base-mig', serial: 'file' });
    await s.defineAndStart(a, g);
    const readA = () => s.readInside(a, g.serialPath!);
    const readB = () => s.readInside(b, g.serialPath!);
    await s.waitForSeq(readA, { minLast: 50 });
    await s.prepareSerialDir(b, g); // Nova creates the instance folder on the destination
    await s.migrate(a, b, g.name, lab);
    const onB = await s.waitForSeq(readB, { minLast: 1 });
    const more = await s.waitForMoreLines(readB, { after: onB, more: 30 });
    const onA = checkHistory(readA());
    t.log(`source lab-a:      ${summarise(onA)}`);
    t.log(`destination lab-b: ${summarise(more)}`);
    const bootA = onA.boots[0]!;
    const bootB = more.boots[0]!;
    t.is(bootA.boot, bootB.boot, 'one boot: the guest kept running');
    t.is(bootA.first, 0);
    t.true(bootB.first > 0, 'the destination starts empty: its file begins mid-boot');
    t.false(more.ok, "the destination's file alone is not the guest's history");
    t.true(bootA.last < bootB.first, "the source's file stopped where the destination's begins");
    // Both halves together: the history is split, not damaged (docs/LAB.md).
    const both = checkHistory(readA() + readB());
    t.log(`both files concatenated: ${summarise(both)}`);
    t.is(both.boots.length, 1);
    t.is(both.boots[0]!.duplicates, 0);
    await s.destroy(b, g.name);
  },
);
