// Lab (issue 4): an OpenStack-style `type='file'` serial (no append: QEMU truncates it at each
// start) restarted 5x by destroy+start and 2x by shutdown+start. The hook seals each boot before
// the truncation; `show` returns every boot complete and in order.
import test from 'ava';
import { checkHistory, summarise } from './checker.js';
import { createGuest, type Guest } from './guest.js';
import { startLab, type Lab, type LabHost } from './harness.js';
import * as s from './scenario.js';
import { dropTornLinesBeforeSeparators } from './store-common.js';

let lab: Lab;
let a: LabHost;

test.before(async () => {
  // auto_enable off: the guest keeps its truncating file serial, so only sealing protects it.
  lab = await startLab({ hosts: ['lab-a'], config: 'auto_enable = 0\n' });
  a = lab.host('lab-a');
});

test.after.always(async () => {
  await lab?.stop();
});

test.serial('file serial: 5 destroy+start and 2 shutdown+start keep every boot, in order', async (t) => {
  const g: Guest = await createGuest(lab, { name: 'restarts', serial: 'file' });
  await s.defineAndStart(a, g);
  const read = () => s.readInside(a, g.serialPath as string);
  const tokens: string[] = [];
  const restarts: Array<'destroy' | 'shutdown'> = [
    'destroy',
    'destroy',
    'destroy',
    'destroy',
    'destroy',
    'shutdown',
    'shutdown',
  ];
  for (const how of restarts) {
    const r = await s.waitForSeq(read, { minLast: 30 });
    tokens.push((r.boots.at(-1) as { boot: string }).boot);
    if (how === 'destroy') await s.destroy(a, g.name);
    else await s.shutdown(a, g.name);
    await s.start(a, g.name);
  }
  const last = await s.waitForSeq(read, { minLast: 30 });
  tokens.push((last.boots.at(-1) as { boot: string }).boot);
  await s.destroy(a, g.name);

  const shown = await a.cli('show', g.name);
  t.is(shown.exitCode, 0, shown.stderr);
  const { text, torn } = dropTornLinesBeforeSeparators(shown.stdout + '\n');
  const report = checkHistory(text);
  t.log(summarise(report));
  if (torn.length) t.log(`torn last lines of destroyed boots: ${JSON.stringify(torn)}`);
  t.true(report.ok, summarise(report));
  t.deepEqual(
    report.boots.map((b) => b.boot),
    tokens,
    'all 8 boots (1 + 7 restarts), in the order they ran',
  );
  for (const b of report.boots) t.true(b.last >= 30, `boot ${b.boot} kept up to where it was stopped`);
  t.is(shown.stdout.split('\n').filter((l) => l.startsWith('-- Boot ')).length, tokens.length);

  // The same history by UUID, the boot list, and one boot by journalctl's numbering.
  const byUuid = await a.cli('show', g.uuid);
  t.is(byUuid.stdout, shown.stdout);
  const boots = await a.cli('show', '--list-boots', '--json', g.name);
  t.is(boots.stdout.trim().split('\n').length, tokens.length);
  const previous = await a.cli('show', '-b', '-1', g.name);
  t.deepEqual(
    checkHistory(dropTornLinesBeforeSeparators(previous.stdout + '\n').text).boots.map((b) => b.boot),
    [tokens.at(-2)],
  );
  const status = await a.cli('status', '--json', g.name);
  t.is(status.exitCode, 0, status.stderr);
  const [st] = JSON.parse(status.stdout);
  t.is(st.hosts[0].mode, 'sealed-only');
  t.is(st.boots, tokens.length);
});
