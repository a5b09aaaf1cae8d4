// Lab (issue 17, retention by itself): undefined_retention_days. Two guests run and stop; one is
// undefined. Past the grace (a fraction of a day here), with libvirt unreachable nothing goes; then,
// with no capture service, the hook at the next stop starts the detached job, which forgets the
// undefined guest's history and keeps the defined one's, equally old.
import test from 'ava';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createGuest, domainXml, livePath, type Guest } from './guest.js';
import { CLI_JS, lazyLab, type LabHost } from './harness.js';
import * as s from './scenario.js';

/** 0.0002 days = 17.28 s. */
const GRACE_MS = 0.0002 * 86_400_000;
const lab = lazyLab({ hosts: ['lab-a'], config: 'auto_enable = 0\nundefined_retention_days = 0.0002\n' });
test.after.always(() => lab.stop());

async function guest(a: LabHost, name: string): Promise<Guest> {
  const base = await createGuest(await lab.get(), { name, serial: 'pty-log' });
  const serialPath = livePath(base.uuid);
  const g = { ...base, serialPath, xml: domainXml({ ...base, serialPath }) };
  await s.defineAndStart(a, g);
  await s.waitForSeq(() => s.readInside(a, serialPath), { minLast: 5 });
  return g;
}

const storeDir = (a: LabHost, g: Guest) => a.outside(`/var/log/libvirt/consolelog/${g.uuid}`);

test.serial(
  'lab: the undefined guest history is forgotten past the grace, never while libvirt is unreachable',
  async (t) => {
    const a = (await lab.get()).host('lab-a');
    const gone = await guest(a, 'forgotten');
    const kept = await guest(a, 'defined');
    await s.destroy(a, gone.name);
    await s.destroy(a, kept.name);
    const stopped = Date.now();
    await a.virsh('undefine', gone.name);
    t.true(existsSync(storeDir(a, gone)) && existsSync(storeDir(a, kept)));
    // Both histories get older than the grace (the store records the stop as their last event).
    await s.waitFor('the grace to pass', () => Date.now() > stopped + GRACE_MS + 1000, {
      timeoutMs: GRACE_MS + 5000,
    });

    // libvirt cannot be asked (virsh fails): nothing is deleted, and the job says why.
    const blind = await a.exec([process.execPath, CLI_JS, 'forget-undefined'], {
      env: { LIBVIRT_DEFAULT_URI: 'qemu+unix:///system?socket=/nonexistent/libvirt-sock' },
    });
    t.is(blind.exitCode, 0, String(blind.stderr));
    t.regex(String(blind.stdout), /nothing forgotten: libvirt could not be asked/);
    t.true(existsSync(storeDir(a, gone)), 'undefined guest kept while libvirt is unreachable');
    t.true(existsSync(storeDir(a, kept)));

    // No capture service: the next stop's hook (its hourly turn made due) starts the job.
    rmSync(a.outside('/var/lib/virt-consolelog/capture/global-retention'), { force: true });
    const trigger = await guest(a, 'trigger');
    await s.destroy(a, trigger.name);
    await s.waitFor('the job to forget the undefined guest', () => !existsSync(storeDir(a, gone)), {
      timeoutMs: 60_000,
    });
    t.true(existsSync(storeDir(a, kept)), 'the defined guest, equally old, is kept');
    t.true(existsSync(storeDir(a, trigger)));
    const shown = await a.cli('show', gone.uuid);
    t.not(shown.exitCode, 0);
    const kept2 = await a.cli('show', kept.name);
    t.is(kept2.exitCode, 0, String(kept2.stderr));
    t.regex(String(kept2.stdout), /seq=/);
    const journal = await s.waitFor('the job in the journal', () => {
      const lines = readFileSync(a.outside('/var/lib/virt-consolelog/journal.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"forget-undefined"') && l.includes(gone.uuid));
      return lines.length ? lines : undefined;
    });
    t.log(journal.at(-1));
    t.regex(journal.at(-1) ?? '', new RegExp(`forgot ${gone.uuid}`));
  },
);
