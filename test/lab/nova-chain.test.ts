// Lab (issue 15): Nova's own console log shows the whole history. Instance folders private to each
// host; the reader is Nova's (console.log, then .0, .1 ... within 100 KiB; test/chain/nova.ts).
import test from 'ava';
import { readdirSync } from 'node:fs';
import { novaConsolePath } from './guest.js';
import { CLI_JS, lazyLab } from './harness.js';
import { assertCompleteHistory, nsLinks } from './migration-common.js';
import * as s from './scenario.js';
import { assertNovaOutput, novaHardReboots, novaHops, novaLabConfig, novaRead } from './nova-chain-common.js';

const lab = lazyLab({ hook: true });
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

for (const serial of ['nova-pty-log', 'file'] as const) {
  test.serial(
    `lab: 4 Nova hard reboots (${serial}), private folder: Nova reads all 4 boots in order`,
    async (t) => {
      const { l, a } = await get();
      const { g, boots } = await novaHardReboots(l, a, {
        name: `hr-${serial}`.replace(/-log$/, ''),
        serial,
        boots: 4,
      });
      assertNovaOutput(t, novaRead(a, g), boots, { restarts: 3 });
      const dir = a.outside(novaConsolePath(g.uuid).replace(/\/console\.log$/, ''));
      t.deepEqual(
        readdirSync(dir)
          .filter((n) => n.startsWith('console.log'))
          .sort(),
        ['console.log', 'console.log.0'],
      );
      const st = await a.cli('status', g.name);
      t.regex(
        st.stdout,
        /reader chain \(Nova\) serial0: \d+ bytes from console\.log, console\.log\.0 \(4 boot\(s\)\)/,
      );
      await s.destroy(a, g.name);
    },
  );
}

test.serial(
  'lab: A -> B -> A -> B, private folders, restart on A: Nova on B reads both boots once, in order',
  async (t) => {
    const { l, a, b } = await get();
    const { g, boots } = await novaHops(t, l, a, b, 'hops');
    assertNovaOutput(t, novaRead(b, g), boots, { restarts: 1 });
    await assertCompleteHistory(t, b, g, 2);
    await s.destroy(b, g.name);
  },
);

test.serial('lab: a guest that printed > 100 KiB: Nova returns exactly `show -c 102400`', async (t) => {
  const { l, a } = await get();
  const { g, boots } = await novaHardReboots(l, a, {
    name: 'big',
    serial: 'nova-pty-log',
    boots: 2,
    delayUs: 1000,
    minLast: 2600, // ~70 KiB a boot
  });
  await s.destroy(a, g.name); // the files stay as they are; both readers see the same state
  const nova = novaRead(a, g);
  t.is(nova.length, 100 * 1024);
  // The whole output, final line end included (execa strips it by default).
  const shown = await a.exec([process.execPath, CLI_JS, 'show', '-c', '102400', g.name], {
    stripFinalNewline: false,
  });
  t.is(shown.exitCode, 0, shown.stderr);
  const at = [...nova].findIndex((c, i) => c !== shown.stdout[i]);
  t.true(
    nova === shown.stdout,
    `byte-identical (first difference at ${at}: ${JSON.stringify(nova.slice(at - 60, at + 60))} vs ${JSON.stringify(shown.stdout.slice(at - 60, at + 60))}; show printed ${shown.stdout.length})`,
  );
  assertNovaOutput(t, nova, boots, { restarts: 1, suffix: true });
});
