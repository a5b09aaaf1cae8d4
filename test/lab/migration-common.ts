// Shared steps of the migration lab tests (issue 5): config per lab host, the hop sequence
// A -> B -> A -> B with restarts in between, waiting for history fetches, the final `show` check.
import type { ExecutionContext } from 'ava';
import { appendFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { checkHistory, summarise, type HistoryReport } from './checker.js';
import { createGuest, type Guest, type SerialStyle } from './guest.js';
import { CLI_JS, type Lab, type LabHost } from './harness.js';
import * as s from './scenario.js';
import { MARKER_PREFIX } from '../../src/store/markers.js';
import { dropTornLinesBeforeSeparators, linesAround, storeDump } from './store-common.js';

/**
 * transport "command" between lab hosts that share no network: enter the peer's mount namespace
 * (its /etc/virt-consolelog, its store) and run its export command there. `{host}` names a link
 * to the peer's namespace file, made by nsLinks().
 */
export function commandTransport(lab: Lab): string {
  const argv = [
    'nsenter',
    `--mount=${join(lab.dir, 'ns', '{host}')}`,
    '--',
    process.execPath,
    CLI_JS,
    'serve-export',
  ];
  return `transport = "command"\ntransport_command = [ ${argv.map((a) => JSON.stringify(a)).join(', ')} ]\n`;
}

/** lab.dir/ns/<host> -> /proc/<pid>/ns/mnt for every host (the transport command's {host}). */
export function nsLinks(lab: Lab): void {
  mkdirSync(join(lab.dir, 'ns'), { recursive: true });
  for (const h of lab.hosts) symlinkSync(`/proc/${h.pid}/ns/mnt`, join(lab.dir, 'ns', h.name));
}

export function hostConfig(lab: Lab, host: LabHost, extra: string): string {
  // host_name explicitly: a peer's export runs in the peer's mount namespace, not its UTS one.
  const peers = lab.hosts.map((h) => JSON.stringify(h.name)).join(', ');
  return `host_name = "${host.name}"\npeers = [ ${peers} ]\ncompress_min_bytes = 512\ntransfer_timeout_seconds = 20\n${extra}`;
}

export interface FetchState {
  status: string;
  lastError?: string;
  source?: string;
  segmentsFetched: number;
}

export function fetchRecord(host: LabHost, uuid: string): FetchState | undefined {
  try {
    return JSON.parse(
      readFileSync(host.outside(`/var/lib/virt-consolelog/domains/${uuid}/fetch.json`), 'utf8'),
    ) as FetchState;
  } catch {
    return undefined;
  }
}

/** Waits until the host's fetch of the guest's history reached one of `statuses`. */
export async function waitFetch(
  host: LabHost,
  uuid: string,
  statuses: string[] = ['complete'],
  timeoutMs = 60_000,
): Promise<FetchState> {
  return s.waitFor(
    `history fetch on ${host.name} to be ${statuses.join('/')} (now ${JSON.stringify(fetchRecord(host, uuid))})`,
    () => {
      const r = fetchRecord(host, uuid);
      return r && statuses.includes(r.status) ? r : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

export interface HopLog {
  hops: string[];
  boots: number;
}

/**
 * Files holding the console output of the guest running on `host`, from its live XML: `<log>` files
 * and file sources (never a device such as a pty, which a read would block on).
 */
async function outputFiles(host: LabHost, name: string): Promise<string[]> {
  const xml = await host.virsh('dumpxml', name);
  const paths = [...xml.matchAll(/<(?:log file|source path)='([^']+)'/g)].map((m) => m[1] as string);
  return [...new Set(paths.filter((p) => !p.startsWith('/dev/')))];
}

/**
 * Waits until the guest running on `host` printed `lines` more sequence lines (about a second of
 * output under TCG on a fast machine; a slower one takes longer, and a boot still starting too).
 */
export async function printMore(host: LabHost, name: string, lines = 150): Promise<void> {
  const files = await outputFiles(host, name);
  if (!files.length) throw new Error(`${name} on ${host.name}: no console output file in its XML`);
  const count = () => files.reduce((n, f) => n + checkHistory(s.readInside(host, f)).seqLines, 0);
  const from = count();
  await s.waitFor(`${lines} more sequence lines of ${name} on ${host.name}`, () => count() >= from + lines, {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
}

/**
 * The sequence guest on `a`, then: a -> b, restart on b, b -> a, restart on a, a -> b (live, with
 * the definition moving along). Between steps the guest prints. After each hop the destination's
 * history fetch must complete (unless `waitEachFetch` is false). Returns the guest, on `b`.
 */
export async function hopSequence(
  t: ExecutionContext,
  lab: Lab,
  a: LabHost,
  b: LabHost,
  opts: {
    name: string;
    serial: SerialStyle;
    waitEachFetch?: boolean;
    enableFirst?: boolean;
    /** Each restart's destroy cuts the guest's last line short (file serial), as a destroy may. */
    cutLastLine?: boolean;
  },
): Promise<Guest> {
  const g = await createGuest(lab, { name: opts.name, serial: opts.serial });
  await s.prepareSerialDir(b, g);
  await s.define(a, g);
  if (opts.enableFirst) {
    // As an operator does before the first boot (`virt-consolelog enable`): logged from boot 1.
    const r = await a.cli('enable', g.name);
    t.is(r.exitCode, 0, r.stderr);
  }
  await s.start(a, g.name);
  await printMore(a, g.name);
  let boots = 1;
  const hop = async (from: LabHost, to: LabHost) => {
    const started = Date.now();
    await s.migrate(from, to, g.name, lab, { persistent: true, undefineSource: true });
    t.log(`${from.name} -> ${to.name}: ${Date.now() - started} ms`);
    t.is(await s.domState(to, g.name), 'running');
    await printMore(to, g.name);
    if (opts.waitEachFetch ?? true) {
      const r = await waitFetch(to, g.uuid, ['complete', 'nothing']);
      t.log(`  fetch on ${to.name}: ${r.status}, ${r.segmentsFetched} segments`);
      // Every hop on its own: the destination has the whole history so far.
      await assertCompleteHistory(t, to, g, boots);
    }
  };
  const restart = async (h: LabHost) => {
    await s.destroy(h, g.name);
    // What QEMU leaves when the destroy comes in the middle of a line: the next boot's start on
    // either host must still begin on a boundary of its own (written here, the guest is gone).
    if (opts.cutLastLine && g.serialPath) appendFileSync(h.outside(g.serialPath), 'seq=0000096');
    await s.start(h, g.name);
    boots++;
    await printMore(h, g.name);
  };
  await hop(a, b);
  await restart(b);
  await hop(b, a);
  await restart(a);
  await hop(a, b);
  return g;
}

/** `show` on `host` holds every line the guest printed: `boots` boots, each from 0, no gap, no duplicate, in order. */
export async function assertCompleteHistory(
  t: ExecutionContext,
  host: LabHost,
  g: Guest,
  boots: number,
): Promise<HistoryReport> {
  const r = await host.cli('show', g.name);
  t.is(r.exitCode, 0, r.stderr);
  // `virsh destroy` of a restart may cut the guest's last line short: that fragment must end right
  // before the next boot's separator (anything else torn is a fault of ours and stays malformed).
  // The last line may be in the middle of being printed (the guest runs on): not counted either.
  const { text, torn, last } = dropTornLinesBeforeSeparators(r.stdout);
  const report = checkHistory(text);
  // Every boot begins with its separator, and a boot marker is never shown as guest output.
  const separators = r.stdout.split('\n').filter((l) => l.startsWith('-- Boot ')).length;
  const markersShown = r.stdout.split('\n').filter((l) => l.startsWith(MARKER_PREFIX));
  t.log(
    `show on ${host.name}: ${summarise(report)}${torn.length ? `; cut short by destroy: ${JSON.stringify(torn)}` : ''}${last === undefined ? '' : `; last line so far: ${JSON.stringify(last)}`}`,
  );
  // A boundary lost or misplaced shows here first (a failed assertion ends the test): log what the reader was given.
  if (
    report.malformed.length ||
    report.boots.length !== boots ||
    torn.length >= boots ||
    separators !== boots ||
    markersShown.length
  )
    t.log(
      `${separators} separator(s)\n${linesAround(r.stdout, [...report.malformed, ...torn, ...markersShown])}\n${storeDump(host, g.uuid)}`,
    );
  t.true(torn.length < boots, 'at most one line cut short per restart');
  t.is(report.boots.length, boots, 'every boot is there');
  for (const b of report.boots) {
    t.is(b.first, 0, `boot ${b.boot} starts at 0`);
    t.is(b.missing, 0, `boot ${b.boot}: no gap (${JSON.stringify(b.gaps.slice(0, 3))})`);
    t.is(b.duplicates, 0, `boot ${b.boot}: no duplicate`);
    t.is(b.reorderings, 0, `boot ${b.boot}: in order`);
  }
  t.false(report.interleaved, 'boots in order');
  t.deepEqual(report.malformed, [], 'no torn line');
  t.deepEqual(markersShown, [], 'no boot marker shown as output');
  t.is(separators, boots, 'one separator per boot');
  return report;
}
