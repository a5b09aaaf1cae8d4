// Process accounting (acct(5), version 3 records) for the scale bench: which commands a storm's CPU
// went to (Node runs of the hook and its jobs, virsh, QEMU), for every process, short-lived ones too.
// Turned on with `accton FILE` (package acct) for the bench's run only, and off again after it.
import { summarise } from './stats.js';
import { execa } from 'execa';

export interface AcctRecord {
  command: string;
  pid: number;
  ppid: number;
  /** Start, seconds since the epoch (whole seconds: the record's resolution). */
  startedAt: number;
  elapsedS: number;
  /** User + system CPU time, seconds (the kernel's resolution: 1/100 s). */
  cpuS: number;
}

const RECORD_BYTES = 64;
const ACCT_VERSION = 3;
const AHZ = 100;

/** comp_t: 13-bit mantissa, 3-bit base-8 exponent. */
function comp(v: number): number {
  return (v & 0x1fff) * 8 ** ((v >> 13) & 7);
}

/** The records of a version 3 accounting file (struct acct_v3, little-endian as written here). */
export function parseAcct(buf: Buffer): AcctRecord[] {
  const out: AcctRecord[] = [];
  for (let off = 0; off + RECORD_BYTES <= buf.length; off += RECORD_BYTES) {
    if (buf.readUInt8(off + 1) !== ACCT_VERSION) continue;
    const name = buf.subarray(off + 48, off + 64);
    const nul = name.indexOf(0);
    out.push({
      command: name.subarray(0, nul < 0 ? name.length : nul).toString('latin1'),
      pid: buf.readUInt32LE(off + 16),
      ppid: buf.readUInt32LE(off + 20),
      startedAt: buf.readUInt32LE(off + 24),
      elapsedS: buf.readFloatLE(off + 28) / AHZ,
      cpuS: (comp(buf.readUInt16LE(off + 32)) + comp(buf.readUInt16LE(off + 34))) / AHZ,
    });
  }
  return out;
}

export interface CommandCpu {
  command: string;
  processes: number;
  cpuS: number;
  /** Median time from start to exit of one process, s: what a caller that waits for each one waits. */
  elapsedMedianS: number;
}

/** CPU of the processes started in [fromMs, toMs], by command, most first. */
export function cpuByCommand(records: readonly AcctRecord[], fromMs: number, toMs: number): CommandCpu[] {
  const by = new Map<string, Omit<CommandCpu, 'elapsedMedianS'> & { elapsed: number[] }>();
  for (const r of records) {
    // Start times are whole seconds: a process started in the window's first second counts.
    if (r.startedAt < Math.floor(fromMs / 1000) || r.startedAt > toMs / 1000) continue;
    const c = by.get(r.command) ?? { command: r.command, processes: 0, cpuS: 0, elapsed: [] };
    c.processes++;
    c.cpuS += r.cpuS;
    c.elapsed.push(r.elapsedS);
    by.set(r.command, c);
  }
  return [...by.values()]
    .map(({ elapsed, ...c }) => ({
      ...c,
      cpuS: Math.round(c.cpuS * 100) / 100,
      elapsedMedianS: summarise(elapsed).median,
    }))
    .sort((a, b) => b.cpuS - a.cpuS);
}

/** Turns accounting on into `file`; false (and nothing changed) where accton is missing or refused. */
export async function startAccounting(file: string): Promise<boolean> {
  const r = await execa('accton', [file], { reject: false });
  return r.exitCode === 0;
}

export async function stopAccounting(): Promise<void> {
  await execa('accton', ['off'], { reject: false });
}
