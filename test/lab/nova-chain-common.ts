// Shared steps of the reader-chain lab tests (issue 15): Nova-style hard reboots and live
// migrations with instance folders private to each host, read back exactly as Nova's driver reads
// console.log, .0, .1 ... (test/chain/nova.ts).
import type { ExecutionContext } from 'ava';
import { checkHistory, summarise, type HistoryReport } from './checker.js';
import { createGuest, novaConsolePath, type Guest, type SerialStyle } from './guest.js';
import type { Lab, LabHost } from './harness.js';
import * as s from './scenario.js';
import { commandTransport, hostConfig, waitFetch } from './migration-common.js';
import { novaConsoleOutputFile } from '../chain/nova.js';

/** What Nova's _get_console_output_file returns on `host` (the file walk; readpty left out: it steals pty bytes). */
export function novaRead(host: LabHost, g: Guest): string {
  return novaConsoleOutputFile(novaConsolePath(g.uuid), (p) => host.outside(p)).toString('latin1');
}

/** Lab config: no automatic definition upgrade (Nova redefines anyway), peers over the command transport. */
export function novaLabConfig(lab: Lab, host: LabHost): string {
  return hostConfig(lab, host, `auto_enable = 0\n${commandTransport(lab)}`);
}

/**
 * A destroyed guest may be cut in the middle of a line; the fragment runs into the next line (a
 * truncating log, read raw) or stands before a boot marker (append mode). Whole lines are kept.
 */
export function untear(text: string): { text: string; torn: string[] } {
  const torn: string[] = [];
  const all = text.split('\n');
  const lines = all.flatMap((l, i) => {
    if (!l.includes('seq=') || /^seq=\d+ boot=[0-9a-f]{8}\r?$/.test(l)) return [l];
    // After the last newline: the line a running guest is printing now, not a torn one.
    if (i === all.length - 1) return [];
    torn.push(l);
    const whole = /(seq=\d+ boot=[0-9a-f]{8}\r?)$/.exec(l);
    return whole ? [whole[1] as string] : [];
  });
  return { text: lines.join('\n'), torn };
}

/**
 * Nova's output: the given boots in order, each line once, no gap. `suffix`: the output may start
 * in the middle of the first boot (virtlogd's rotation dropped older files).
 */
export function assertNovaOutput(
  t: ExecutionContext,
  text: string,
  boots: readonly string[],
  opts: { suffix?: boolean; restarts: number },
): HistoryReport {
  const { text: clean, torn } = untear(text);
  const r = checkHistory(clean);
  t.log(
    `Nova's reader: ${text.length} bytes, ${summarise(r)}${torn.length ? `; torn ${JSON.stringify(torn)}` : ''}`,
  );
  t.true(text.length <= 100 * 1024, 'within MAX_CONSOLE_BYTES');
  t.true(torn.length <= opts.restarts, 'at most one line cut short per restart');
  const seen = r.boots.map((b) => b.boot);
  if (opts.suffix) t.deepEqual(seen, boots.slice(boots.length - seen.length), 'the newest boots, in order');
  else t.deepEqual(seen, [...boots], 'every boot, in order');
  r.boots.forEach((b, i) => {
    if (!(opts.suffix && i === 0)) t.is(b.first, 0, `boot ${b.boot} from its first line`);
    // A suffix starts inside its first boot: only the lines before its first one may be absent.
    const gaps = opts.suffix && i === 0 ? b.gaps.filter((g) => g.from !== 0) : b.gaps;
    t.deepEqual(gaps, [], `boot ${b.boot}: no gap`);
    t.is(b.duplicates, 0, `boot ${b.boot}: no line twice`);
    t.is(b.reorderings, 0, `boot ${b.boot}: in order`);
  });
  t.false(r.interleaved, 'boots not mixed');
  t.deepEqual(r.malformed, []);
  return r;
}

/** The boot token of the newest boot in a host's console.log, once it printed `minLast` lines. */
async function newBoot(host: LabHost, g: Guest, seen: readonly string[], minLast = 30): Promise<string> {
  const r = await s.waitForSeq(() => s.readInside(host, novaConsolePath(g.uuid)), {
    minLast,
    notBoots: [...seen],
  });
  return r.boots[r.boots.length - 1]?.boot as string;
}

/**
 * Nova's hard reboot, `n` boots: define the regenerated XML (append off / type='file') before each
 * start; destroy between boots. Returns the boot tokens, oldest first; the guest keeps running.
 */
export async function novaHardReboots(
  lab: Lab,
  host: LabHost,
  opts: { name: string; serial: SerialStyle; boots: number; delayUs?: number; minLast?: number },
): Promise<{ g: Guest; boots: string[] }> {
  const g = await createGuest(lab, { name: opts.name, serial: opts.serial, delayUs: opts.delayUs ?? 20000 });
  const boots: string[] = [];
  for (let i = 0; i < opts.boots; i++) {
    await s.define(host, g);
    await s.start(host, g.name);
    boots.push(await newBoot(host, g, boots, opts.minLast));
    if (i < opts.boots - 1) await s.destroy(host, g.name);
  }
  return { g, boots };
}

/** A -> B -> A, restart on A, A -> B, each hop waiting for the history fetch. Returns the boots. */
export async function novaHops(
  t: ExecutionContext,
  lab: Lab,
  a: LabHost,
  b: LabHost,
  name: string,
): Promise<{ g: Guest; boots: string[] }> {
  const g = await createGuest(lab, { name, serial: 'nova-pty-log', delayUs: 20000 });
  await s.prepareSerialDir(b, g); // Nova's pre_live_migration makes the instance folder
  await s.define(a, g);
  await s.start(a, g.name);
  const boots = [await newBoot(a, g, [])];
  const hop = async (from: LabHost, to: LabHost) => {
    await s.migrate(from, to, g.name, lab, { persistent: true, undefineSource: true });
    const r = await waitFetch(to, g.uuid, ['complete']);
    t.log(`${from.name} -> ${to.name}: fetch ${r.status}, ${r.segmentsFetched} segments`);
    // The chain is laid out right after the fetch completed: its file is there or the view says why.
    await s.waitForMoreLines(() => s.readInside(to, novaConsolePath(g.uuid)), { more: 15 });
  };
  await hop(a, b);
  await hop(b, a);
  await s.destroy(a, g.name);
  await s.start(a, g.name);
  boots.push(await newBoot(a, g, boots));
  await hop(a, b);
  return { g, boots };
}
