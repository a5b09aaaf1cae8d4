// Lab (issues 17 + 18 end to end): `virt-consolelog collect`, as the packaged unit runs it, with a
// real systemd-journald in the lab host (started as in journald.test.ts): every line `show`
// returns of a guest's boot is in `journalctl -D ... VIRT_DOMAIN_NAME=...` once, in order.
import test from 'ava';
import { createGuest, domainXml, livePath, type Guest } from './guest.js';
import { CLI_JS, lazyLab, type LabHost, type RunPromise } from './harness.js';
import * as s from './scenario.js';

const lab = lazyLab({ hosts: ['lab-a'], config: 'auto_enable = 0\n' });
let journaldPid: string | undefined;
let service: RunPromise | undefined;
let serviceErr = '';

test.after.always(async () => {
  service?.kill('SIGTERM');
  await service?.catch(() => undefined);
  const a = (await lab.get()).host('lab-a');
  if (journaldPid) await a.exec(['kill', journaldPid]);
  await lab.stop();
});

async function startJournald(a: LabHost): Promise<void> {
  // Volatile storage; journald's own limit off as the unit's LogRateLimitIntervalSec=0 does.
  const r = await a.exec([
    'sh',
    '-c',
    'mkdir -p /run/systemd/journal /run/log/journal /run/systemd/journald.conf.d && ' +
      'printf "[Journal]\\nStorage=volatile\\nRateLimitBurst=0\\n" >/run/systemd/journald.conf.d/lab.conf && ' +
      '{ /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 & echo $!; }',
  ]);
  if (r.exitCode !== 0) throw new Error(`systemd-journald did not start: ${r.stderr}`);
  journaldPid = r.stdout.trim();
  await s.waitFor('journald sockets', async () => {
    const t = await a.exec(['test', '-S', '/run/systemd/journal/socket']);
    return t.exitCode === 0 ? true : undefined;
  });
}

async function journalMessages(a: LabHost, name: string, boot: string): Promise<string[]> {
  const r = await a.exec([
    'journalctl',
    '-D',
    '/run/log/journal',
    '-o',
    'json',
    `VIRT_DOMAIN_NAME=${name}`,
    `VIRT_BOOT_ID=${boot}`,
  ]);
  if (r.exitCode !== 0) throw new Error(`journalctl: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { MESSAGE: string | number[] | null; PRIORITY?: string })
    .filter((e) => e.PRIORITY === '6')
    .map((e) => (Array.isArray(e.MESSAGE) ? Buffer.from(e.MESSAGE).toString() : (e.MESSAGE ?? '')));
}

async function shownLines(a: LabHost, g: Guest): Promise<{ boot: string; texts: string[] }> {
  const r = await a.cli('show', '-o', 'json', '-b', '0', g.name);
  if (r.exitCode !== 0) throw new Error(`show: ${r.stderr}`);
  const lines = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; text: string; boot: string })
    .filter((o) => o.type === 'line');
  return { boot: lines[0]?.boot ?? '', texts: lines.map((o) => o.text) };
}

test.serial('lab: collect sends every line show returns to the journal, once, in order', async (t) => {
  const l = await lab.get();
  const a = l.host('lab-a');
  await startJournald(a);
  service = a.exec([process.execPath, CLI_JS, 'collect']);
  service.stderr?.on('data', (c: Buffer) => (serviceErr += c.toString()));
  const base = await createGuest(l, { name: 'jrn1', serial: 'pty-log', delayUs: 100_000 });
  const serialPath = livePath(base.uuid);
  const g: Guest = { ...base, serialPath, xml: domainXml({ ...base, serialPath }) };
  try {
    // A first boot puts the device in domain.json: the service follows it from then on, so the
    // second boot is read from its first line (a file found already written is read from its end).
    await s.defineAndStart(a, g);
    await s.waitForSeq(() => s.readInside(a, serialPath), { minLast: 5, timeoutMs: 120_000 });
    await s.destroy(a, g.name);
    await s.waitFor('the service to follow the device', async () => {
      const st = await a.exec(['cat', '/var/lib/virt-consolelog/capture/status.json']);
      return st.exitCode === 0 && st.stdout.includes(g.uuid) ? true : undefined;
    });
    await s.start(a, g.name);
    const before = s.readInside(a, serialPath).length;
    await s.waitForSeq(() => s.readInside(a, serialPath).slice(before), {
      minLast: 150,
      timeoutMs: 240_000,
    });
    await s.destroy(a, g.name);
    const shown = await shownLines(a, g);
    t.true(shown.texts.length >= 150, `${shown.texts.length} lines shown`);
    t.regex(shown.boot, /^[0-9a-f]{16}$/);
    // The service reads each line as the guest prints it; the last ones may still be on their way.
    const inJournal = await s.waitFor(
      'every shown line in the journal',
      async () => {
        const got = await journalMessages(a, g.name, shown.boot);
        return got.length >= shown.texts.length ? got : undefined;
      },
      { timeoutMs: 60_000 },
    );
    t.log(`${shown.texts.length} lines of boot ${shown.boot} shown, ${inJournal.length} in the journal`);
    t.deepEqual(inJournal, shown.texts);
  } finally {
    service?.kill('SIGTERM');
    await service?.catch(() => undefined);
    service = undefined;
    t.log(serviceErr);
  }
});
