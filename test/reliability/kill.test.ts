// kill -9 of the hook in the middle of sealing (the compiled hook, in the namespace sandbox): the
// next run completes the seal, and the history holds every boot exactly once, complete.
import test from 'ava';
import { checkHistory, summarise } from '../lab/checker.js';
import { rng } from '../fuzz/generate.js';
import { recordFigures } from '../fuzz/record.js';
import { Sandbox } from '../security/sandbox.js';
import { bootToken, fileSerialDomain, qemuStart, uuidFor } from './common.js';
import { patient } from '../lab/patience.js';

const ROUNDS = Number(process.env.KILL_ROUNDS ?? 8);
const LINES = 40_000; // ~1.1 MB per boot: sealing takes long enough to be hit mid-way

test('kill -9 during prepare/stop seals: no boot lost, nothing duplicated', async (t) => {
  t.timeout(patient(300_000));
  const sb = await Sandbox.create({
    prefix: 'vcl-kill-',
    config: 'host_name = "sandbox"\nauto_enable = 0\ncompress_min_bytes = 4096\n',
  });
  t.teardown(() => sb.destroy());
  const uuid = uuidFor(1);
  const serial = '/var/log/libvirt/qemu/killed.log';
  const xml = fileSerialDomain('killed', uuid, serial);
  const r = rng(7);
  let kills = 0;
  let completedBeforeKill = 0;
  const failures: string[] = [];

  // Measure one clean seal to aim the kills inside it.
  qemuStart(sb, serial, bootToken(0), LINES);
  const clean = await sb.hook(['killed', 'prepare', 'begin', '-'], { stdin: xml });
  if (clean.code !== 0) failures.push(`clean prepare: exit ${clean.code}: ${clean.stderr}`);
  const span = Math.max(50, clean.ms);
  for (let i = 1; i <= ROUNDS; i++) {
    qemuStart(sb, serial, bootToken(i), LINES);
    const [op, subop, extra] = i % 2 ? ['prepare', 'begin', '-'] : ['release', 'end', '-'];
    const k = await sb.hook(['killed', op as string, subop as string, extra], {
      stdin: xml,
      killAfterMs: Math.floor(r() * span),
    });
    if (k.killed) kills++;
    else completedBeforeKill++;
    // libvirt reports the killed hook; the operator (or libvirt's next event) runs it again.
    const again = await sb.hook(['killed', 'prepare', 'begin', '-'], { stdin: xml });
    if (again.code !== 0) failures.push(`round ${i}: rerun exit ${again.code}: ${again.stderr}`);
  }
  const stop = await sb.hook(['killed', 'release', 'end', 'destroyed'], { stdin: xml });
  if (stop.code !== 0) failures.push(`final release: ${stop.stderr}`);

  const shown = await sb.cli(['show', uuid]);
  const report = checkHistory(shown.stdout.toString());
  t.log(summarise(report));
  t.log(`${kills} hooks killed mid-run, ${completedBeforeKill} finished before the kill`);
  recordFigures('faults-kill', {
    rounds: ROUNDS,
    kills,
    boots: ROUNDS + 1,
    duplicates: report.totals.duplicates,
    missing: report.totals.missing,
    failures: failures.length,
  });
  t.deepEqual(failures, []);
  t.is(shown.code, 0, shown.stderr);
  t.deepEqual(
    report.boots.map((b) => b.boot),
    Array.from({ length: ROUNDS + 1 }, (_, i) => bootToken(i)),
    'every boot, in order',
  );
  for (const b of report.boots) {
    t.is(b.last, LINES - 1, `boot ${b.boot} complete`);
    t.is(b.duplicates, 0, `boot ${b.boot} not duplicated`);
    t.is(b.missing, 0, `boot ${b.boot} has no gap`);
  }
  t.true(kills > 0, 'at least one hook was killed mid-run');
});
