// Lab (issue 15): reader chains while virtlogd rotates Nova's console.log (max_size 8 KiB, 3
// backups). virtlogd's files are never lost, cut or reordered (`show` has every line; Nova's bytes
// are the tail of `show -c`), and Nova's reader still returns the newest output in order.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { CLI_JS, lazyLab, type LabHost } from './harness.js';
import type { Guest } from './guest.js';
import { assertCompleteHistory, nsLinks } from './migration-common.js';
import * as s from './scenario.js';
import { checkHistory, summarise } from './checker.js';
import {
  assertNovaOutput,
  novaHardReboots,
  novaHops,
  novaLabConfig,
  novaRead,
  untear,
} from './nova-chain-common.js';

const lab = lazyLab({ hook: true, virtlogd: { maxSize: 8192, maxBackups: 3 } });
let ready = false;

async function get() {
  const l = await lab.get();
  if (!ready) {
    nsLinks(l);
    for (const h of l.hosts) h.writeConfig(novaLabConfig(l, h));
    ready = true;
  }
  return { l, a: l.host('lab-a'), b: l.host('lab-b') };
}

test.after.always(() => lab.stop());

/** Every line virtlogd took from the guest is in the store, once, in order (raw history). */
async function assertRawHistoryComplete(
  t: ExecutionContext,
  host: LabHost,
  g: Guest,
  boots: readonly string[],
): Promise<void> {
  const shown = await host.cli('show', '-c', '1000000000', g.name);
  t.is(shown.exitCode, 0, shown.stderr);
  const { text } = untear(shown.stdout);
  const r = checkHistory(text);
  t.log(`raw history on ${host.name}: ${summarise(r)}`);
  t.deepEqual(
    r.boots.map((b) => b.boot),
    [...boots],
  );
  for (const b of r.boots) {
    t.is(b.first, 0);
    t.is(b.missing, 0, `boot ${b.boot}: ${JSON.stringify(b.gaps.slice(0, 3))}`);
    t.is(b.duplicates, 0);
    t.is(b.reorderings, 0);
  }
}

/** With the guest stopped: Nova's bytes are exactly the newest bytes of the whole history. */
async function novaIsTailOfShow(t: ExecutionContext, host: LabHost, g: Guest): Promise<void> {
  const nova = novaRead(host, g);
  const shown = await host.exec([process.execPath, CLI_JS, 'show', '-c', String(nova.length), g.name], {
    stripFinalNewline: false,
  });
  t.is(shown.exitCode, 0, shown.stderr);
  t.true(nova === shown.stdout, `Nova's ${nova.length} bytes are the tail of the history`);
}

test.serial('lab: 4 Nova hard reboots while virtlogd rotates: nothing lost, Nova in order', async (t) => {
  const { l, a } = await get();
  const { g, boots } = await novaHardReboots(l, a, {
    name: 'rothr',
    serial: 'nova-pty-log',
    boots: 4,
    delayUs: 5000,
    minLast: 600, // ~16 KiB a boot: two rotations each
  });
  assertNovaOutput(t, novaRead(a, g), boots, { restarts: 3, suffix: true });
  await s.destroy(a, g.name);
  // `show` with its separators (each boot begins in the file its start truncated, not in the file
  // virtlogd's last rollover began mid-line), and the raw bytes (`show -c`).
  await assertCompleteHistory(t, a, g, boots.length);
  await assertRawHistoryComplete(t, a, g, boots);
  await novaIsTailOfShow(t, a, g);
});

test.serial('lab: A -> B -> A -> B while virtlogd rotates: nothing lost, Nova on B in order', async (t) => {
  const { l, a, b } = await get();
  const { g, boots } = await novaHops(t, l, a, b, 'rothops');
  assertNovaOutput(t, novaRead(b, g), boots, { restarts: 1, suffix: true });
  await assertCompleteHistory(t, b, g, 2);
  await s.destroy(b, g.name);
});
