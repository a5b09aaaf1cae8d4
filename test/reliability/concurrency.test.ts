// Concurrency with the compiled hook in the namespace sandbox: many hooks for many guests at once,
// two hooks for one guest at once, and readers running while the guest prints and hooks seal.
import test from 'ava';
import { checkHistory, summarise } from '../lab/checker.js';
import { recordFigures } from '../fuzz/record.js';
import { Sandbox } from '../security/sandbox.js';
import { bootToken, fileSerialDomain, guestPrints, qemuStart, uuidFor } from './common.js';
import { patient } from '../lab/patience.js';

const GUESTS = 12;

test('many guests at once, two hooks for one guest, readers during sealing', async (t) => {
  t.timeout(patient(300_000));
  const sb = await Sandbox.create({
    prefix: 'vcl-conc-',
    config: 'host_name = "sandbox"\nauto_enable = 0\nlock_wait_ms = 20000\n',
  });
  t.teardown(() => sb.destroy());
  const failures: string[] = [];
  const guests = Array.from({ length: GUESTS }, (_, i) => ({
    name: `g${i}`,
    uuid: uuidFor(100 + i),
    serial: `/var/log/libvirt/qemu/g${i}.log`,
  }));
  const xmlOf = (g: (typeof guests)[number]) => fileSerialDomain(g.name, g.uuid, g.serial);

  // Round 1: every guest's first boot, then all of them stop and start again at once (stop + prepare).
  for (const g of guests) qemuStart(sb, g.serial, bootToken(0), 3000);
  const all = await Promise.all(
    guests.flatMap((g) => [
      sb.hook([g.name, 'release', 'end', '-'], { stdin: xmlOf(g), timeoutMs: 120_000 }),
      sb.hook([g.name, 'release', 'end', 'destroyed'], { stdin: xmlOf(g), timeoutMs: 120_000 }),
      // Two hooks for one guest at once: the same prepare twice.
      sb.hook([g.name, 'prepare', 'begin', '-'], { stdin: xmlOf(g), timeoutMs: 120_000 }),
      sb.hook([g.name, 'prepare', 'begin', '-'], { stdin: xmlOf(g), timeoutMs: 120_000 }),
    ]),
  );
  for (const r of all)
    if (r.code !== 0 || r.timedOut) failures.push(`hook exit ${r.code} timedOut=${r.timedOut}: ${r.stderr}`);

  // Round 2: boot 1 prints while readers read and hooks seal (a stop seal with the guest still printing
  // its last lines is what a destroy looks like from the file's point of view).
  const busy = guests[0] as (typeof guests)[number];
  qemuStart(sb, busy.serial, bootToken(1), 100);
  let printed = 100;
  let reads = 0;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      guestPrints(sb, busy.serial, bootToken(1), printed, 500);
      printed += 500;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const readers = (async () => {
    for (let i = 0; i < 12; i++) {
      const shown = await sb.cli(['show', busy.uuid], { timeoutMs: 60_000 });
      reads++;
      const rep = checkHistory(shown.stdout.toString());
      if (shown.code !== 0) failures.push(`reader ${i}: exit ${shown.code}: ${shown.stderr}`);
      if (rep.totals.duplicates || rep.totals.reorderings || rep.malformed.length || rep.interleaved)
        failures.push(`reader ${i}: torn or duplicated read: ${summarise(rep)}`);
      const b1 = rep.boots.find((b) => b.boot === bootToken(1));
      if (b1 && b1.missing) failures.push(`reader ${i}: gap in the boot being written: ${summarise(rep)}`);
    }
  })();
  const sealers = (async () => {
    for (let i = 0; i < 6; i++) {
      const r = await sb.hook([busy.name, 'release', 'end', '-'], { stdin: xmlOf(busy), timeoutMs: 60_000 });
      if (r.code !== 0) failures.push(`sealer ${i}: exit ${r.code}`);
    }
  })();
  await Promise.all([readers, sealers]);
  writing = false;
  await writer;
  await sb.hook([busy.name, 'release', 'end', 'destroyed'], { stdin: xmlOf(busy) });

  // Every guest: boot 0 complete exactly once; the busy guest also boot 1 up to its last line.
  let lost = 0;
  let duplicated = 0;
  for (const g of guests) {
    const shown = await sb.cli(['show', g.uuid]);
    const rep = checkHistory(shown.stdout.toString());
    lost += rep.totals.missing;
    duplicated += rep.totals.duplicates;
    const want = g === busy ? [bootToken(0), bootToken(1)] : [bootToken(0)];
    if (JSON.stringify(rep.boots.map((b) => b.boot)) !== JSON.stringify(want))
      failures.push(
        `${g.name}: boots ${rep.boots.map((b) => b.boot).join(',')} (want ${want.join(',')}): ${summarise(rep)}`,
      );
    const b0 = rep.boots[0];
    if (!b0 || b0.last !== 2999 || b0.missing || b0.duplicates)
      failures.push(`${g.name}: boot 0 not complete once: ${summarise(rep)}`);
    if (g === busy) {
      const b1 = rep.boots[1];
      if (!b1 || b1.last !== printed - 1 || b1.missing || b1.duplicates)
        failures.push(`${g.name}: boot 1 not complete once (printed ${printed}): ${summarise(rep)}`);
    }
  }
  recordFigures('concurrency', {
    guests: GUESTS,
    concurrentHooks: all.length,
    reads,
    linesLost: lost,
    linesDuplicated: duplicated,
    failures: failures.length,
  });
  t.log(
    `${all.length} hooks at once for ${GUESTS} guests, ${reads} reads during sealing; lost ${lost}, duplicated ${duplicated}`,
  );
  t.deepEqual(failures, [], failures.slice(0, 10).join('\n'));
});
