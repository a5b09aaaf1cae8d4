// Corrupt state files in the store (the compiled hook and CLI in the namespace sandbox): the
// history stays readable, complete and without duplicates.
import test from 'ava';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkHistory, summarise } from '../lab/checker.js';
import { INSIDE, Sandbox } from '../security/sandbox.js';
import { bootToken, fileSerialDomain, qemuStart, uuidFor } from './common.js';

async function sealedBoots(corrupt: (domainDir: string) => void) {
  const sb = await Sandbox.create({
    prefix: 'vcl-state-',
    config: 'host_name = "sandbox"\nauto_enable = 0\n',
  });
  try {
    const uuid = uuidFor(400);
    const serial = '/var/log/libvirt/qemu/st.log';
    const xml = fileSerialDomain('st', uuid, serial);
    for (let i = 0; i < 3; i++) {
      qemuStart(sb, serial, bootToken(i), 1000);
      if (i === 2) corrupt(sb.host(`${INSIDE.store}/${uuid}`));
      await sb.hook(['st', 'prepare', 'begin', '-'], { stdin: xml });
    }
    await sb.hook(['st', 'release', 'end', 'destroyed'], { stdin: xml });
    const shown = await sb.cli(['show', uuid]);
    return { shown, report: checkHistory(shown.stdout.toString()) };
  } finally {
    sb.destroy();
  }
}

test('corrupt domain.json and sealed.json: every boot once, complete', async (t) => {
  const { shown, report } = await sealedBoots((d) => {
    writeFileSync(path.join(d, 'domain.json'), '{"names": [');
    writeFileSync(path.join(d, 'sealed.json'), '\0\0\0');
  });
  t.is(shown.code, 0, shown.stderr);
  t.log(summarise(report));
  t.deepEqual(
    report.boots.map((b) => b.boot),
    [0, 1, 2].map(bootToken),
  );
  t.is(report.totals.duplicates, 0);
  t.is(report.totals.missing, 0);
});

// listArchive() used to skip a segment whose sidecar does not parse: `show` (and a peer's fetch)
// silently lost that sealed boot although its content was intact on disk.
test('corrupt sidecar: its sealed segment stays visible to show', async (t) => {
  const { shown, report } = await sealedBoots((d) => {
    const sidecar = readdirSync(path.join(d, 'archive'))
      .filter((f) => f.endsWith('.json'))
      .sort()[0] as string;
    writeFileSync(path.join(d, 'archive', sidecar), '\0\0garbage');
  });
  t.is(shown.code, 0, shown.stderr);
  t.deepEqual(
    report.boots.map((b) => b.boot),
    [0, 1, 2].map(bootToken),
  );
});
