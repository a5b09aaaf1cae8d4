// `npm run demo`: two real libvirt lab hosts on this machine (test/lab/harness.ts), a guest with an
// OpenStack-style type='file' serial that is restarted (destroy + start) and live-migrated, then what
// plain libvirt kept vs what virt-consolelog kept. Every number comes from the checker
// (test/lab/checker.ts) run on real files and real `virt-consolelog show` output; nothing is a constant.
// Runs the scenario twice: without the hook (plain libvirt), then with it. Cleans up after itself.
import { checkHistory, type HistoryReport } from '../test/lab/checker.js';
import { createGuest, type Guest } from '../test/lab/guest.js';
import { CLI_JS, labTransportConfig, startLab, type Lab, type LabHost } from '../test/lab/harness.js';
import * as s from '../test/lab/scenario.js';
import { existsSync } from 'node:fs';

const t0 = Date.now();
const say = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}`);
const bold = (x: string) => (process.stdout.isTTY ? `\x1b[1m${x}\x1b[0m` : x);

interface RunResult {
  /** Highest counter seen per boot anywhere (files read during the run): what the guest printed. */
  printed: Map<string, number>;
  /** The serial file / console log at the domain's path on the final host, at the end. */
  finalHostFile: HistoryReport;
  /** `virt-consolelog show` on the final host (plugin run only). */
  shown?: HistoryReport;
  showText?: string;
  consoleLine?: string;
  consoleError?: string;
  serialOnB?: string;
}

function note(printed: Map<string, number>, r: HistoryReport): void {
  for (const b of r.boots) printed.set(b.boot, Math.max(printed.get(b.boot) ?? -1, b.last));
}

function firstSerial(xml: string): string {
  return /<serial\b[\s\S]*?<\/serial>/.exec(xml)?.[0] ?? '(no serial)';
}

/** The file the first serial writes: its <log file> if any, else its file <source path>. */
function serialFile(xml: string): string | undefined {
  const serial = firstSerial(xml);
  return /<log file='([^']+)'/.exec(serial)?.[1] ?? /<source path='([^']+)'/.exec(serial)?.[1];
}

async function scenario(lab: Lab, withHook: boolean): Promise<RunResult> {
  const a = lab.host('lab-a');
  const b = lab.host('lab-b');
  const g: Guest = await createGuest(lab, { name: 'demo-vm', serial: 'file' });
  const printed = new Map<string, number>();
  const readA = () => s.readInside(a, g.serialPath!);

  await s.defineAndStart(a, g);
  let r = await s.waitForSeq(readA, { minLast: 300 });
  say(`guest demo-vm runs on lab-a, printing to ${g.serialPath} (boot ${r.boots[0]!.boot})`);

  await s.destroy(a, g.name);
  note(printed, checkHistory(readA())); // everything boot 1 printed is in the file right now
  say(`restart the OpenStack way: virsh destroy + virsh start`);
  await s.start(a, g.name);
  r = await s.waitForSeq(readA, { minLast: 300 });
  note(printed, r);
  say(`boot 2 runs; the file at ${g.serialPath} on lab-a now holds ${r.boots.length} boot(s)`);

  await s.prepareSerialDir(b, g); // Nova's pre_live_migration creates the instance folder
  say('live migration lab-a -> lab-b (virsh migrate --live over a unix socket)');
  await s.migrate(a, b, g.name, lab);
  const xmlB = await b.virsh('dumpxml', g.name);
  const pathB = serialFile(xmlB) ?? g.serialPath!;
  const readB = () => s.readInside(b, pathB);
  const serialOnB = firstSerial(xmlB);
  say(`on lab-b the serial is now:\n${serialOnB.replace(/^/gm, '           ')}`);
  let rb = await s.waitForSeq(readB, { minLast: 1 });
  rb = await s.waitForMoreLines(readB, { after: rb, more: 200 });

  const result: RunResult = { printed, finalHostFile: rb, serialOnB };
  try {
    const c = await s.consoleReadLine(lab, b, g.name, { timeoutMs: 10_000 });
    result.consoleLine = c.line;
    say(`virsh console demo-vm on lab-b: attached, read "${c.line}", detached (Ctrl-])`);
  } catch (e) {
    result.consoleError = (
      (e as Error).message.split('\n').find((l) => /error/i.test(l)) ?? (e as Error).message
    )
      .trim()
      .slice(0, 160);
    say(`virsh console demo-vm on lab-b: FAILED: ${result.consoleError}`);
  }

  await s.destroy(b, g.name); // stop printing so "printed" is final
  note(printed, checkHistory(readA()));
  note(printed, checkHistory(readB()));
  result.finalHostFile = checkHistory(readB());
  if (!withHook) return result;

  // The history may still be arriving from lab-a (detached fetch after the guest left it): wait until
  // `show` stops changing, at most 30 s.
  let prev = '';
  let stable = 0;
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    const show = await b.cli('show', g.name);
    const text = show.exitCode === 0 ? String(show.stdout) : '';
    result.showText = text || `(show failed, exit ${show.exitCode}: ${String(show.stderr).trim()})`;
    const rep = checkHistory(text + '\n');
    note(printed, rep);
    result.shown = rep;
    if (rep.ok && rep.boots.length >= printed.size) break;
    stable = text === prev ? stable + 1 : 0;
    if (stable >= 10) break;
    prev = text;
    await s.sleep(500);
  }
  return result;
}

interface Row {
  label: string;
  boots: number;
  kept: number;
  missing: number;
}

function rowFor(label: string, printed: Map<string, number>, r: HistoryReport | undefined): Row {
  const total = [...printed.values()].reduce((x, y) => x + y + 1, 0);
  if (!r) return { label, boots: 0, kept: 0, missing: total };
  // Distinct counters of each boot present here; `printed` holds every boot's highest counter seen anywhere.
  const kept = r.boots.filter((b) => printed.has(b.boot)).reduce((n, b) => n + b.distinct, 0);
  return { label, boots: r.boots.filter((b) => printed.has(b.boot)).length, kept, missing: total - kept };
}

function table(rows: Row[]): string {
  const head = ['', 'boots', 'lines kept', 'lines lost'];
  const cells = rows.map((r) => [r.label, String(r.boots), String(r.kept), String(r.missing)]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const fmt = (c: string[]) => c.map((x, i) => (i === 0 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('   ');
  return [fmt(head), ...cells.map(fmt)].map((l) => `  ${l}`).join('\n');
}

async function withLab<T>(hook: boolean, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await startLab({
    hook,
    config: hook ? (_name, l) => labTransportConfig(l) : undefined,
  });
  try {
    return await fn(lab);
  } finally {
    await lab.stop();
  }
}

function describeHost(h: LabHost): string {
  return `${h.name} (libvirtd pid ${h.libvirtdPid()}, virtlogd pid ${h.virtlogdPid()}, private /etc/libvirt, /run, /var/lib/libvirt, /var/log/libvirt)`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('the demo needs root (it starts libvirtd in private namespaces)');
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} missing: run npm run build (npm run demo does)`);

  console.log(
    bold('virt-consolelog demo: one guest, one restart, one live migration, on two real libvirt hosts\n'),
  );
  console.log(bold('Pass 1: plain libvirt (no virt-consolelog)'));
  const base = await withLab(false, async (lab) => {
    lab.hosts.forEach((h) => say(`host ${describeHost(h)}`));
    return scenario(lab, false);
  });

  console.log(bold('\nPass 2: the same with virt-consolelog installed on both hosts'));
  const plug = await withLab(true, async (lab) => {
    lab.hosts.forEach((h) => say(`host ${describeHost(h)}, hook installed in /etc/libvirt/hooks/qemu.d/`));
    return scenario(lab, true);
  });

  console.log(bold('\nWhat virt-consolelog keeps: virt-consolelog show demo-vm (on lab-b), abridged'));
  const shown = (plug.showText ?? '(virt-consolelog show produced nothing)').split('\n');
  const keep = shown.filter(
    (l, i) =>
      l.startsWith('-- ') ||
      i < 2 ||
      i >= shown.length - 3 ||
      /^-- Boot/.test(shown[i + 1] ?? '') ||
      /^-- Boot/.test(shown[i - 1] ?? ''),
  );
  let lastIdx = -1;
  for (const l of keep) {
    const idx = shown.indexOf(l, lastIdx + 1);
    if (idx > lastIdx + 1 && lastIdx >= 0) console.log(`  ... (${idx - lastIdx - 1} lines)`);
    console.log(`  ${l}`);
    lastIdx = idx;
  }

  console.log(bold('\nBefore / after (counted by the checker, test/lab/checker.ts)'));
  const printedBase = [...base.printed.values()].reduce((x, y) => x + y + 1, 0);
  const printedPlug = [...plug.printed.values()].reduce((x, y) => x + y + 1, 0);
  console.log(
    table([
      { label: 'pass 1: the guest printed', boots: base.printed.size, kept: printedBase, missing: 0 },
      rowFor(
        'pass 1: plain libvirt kept (the serial file on the final host, lab-b)',
        base.printed,
        base.finalHostFile,
      ),
      { label: 'pass 2: the guest printed', boots: plug.printed.size, kept: printedPlug, missing: 0 },
      rowFor('pass 2: the log file on the final host alone', plug.printed, plug.finalHostFile),
      rowFor('pass 2: virt-consolelog show kept', plug.printed, plug.shown),
    ]),
  );
  const rep = plug.shown;
  console.log(
    `\n  virsh console after migration: plain libvirt: ${base.consoleLine ? `works ("${base.consoleLine}")` : `no (${base.consoleError ?? 'failed'})`}` +
      `\n                                 virt-consolelog: ${plug.consoleLine ? `works ("${plug.consoleLine}")` : `no (${plug.consoleError ?? 'failed'})`}`,
  );
  if (rep) {
    console.log(
      `  show: ${rep.totals.boots} boots, ${rep.totals.missing} lines missing inside them, ${rep.totals.duplicates} duplicated, ` +
        `${rep.totals.reorderings} out of order, boots ${rep.interleaved ? 'interleaved' : 'in order'} => ${rep.ok ? 'complete' : 'NOT complete'}`,
    );
  }
  console.log(
    `\nDone in ${((Date.now() - t0) / 1000).toFixed(0)} s; both labs torn down (processes killed, mounts gone, /tmp/vcl-lab-* removed).`,
  );
}

main().catch((e) => {
  console.error(`demo failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
