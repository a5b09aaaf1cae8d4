// Scenario helpers: guest lifecycle on lab hosts, migration, waiting for output, virsh console via tmux.
//
//   await defineAndStart(a, g)             // virsh define + start (persistent guest)
//   await createTransient(a, g)            // virsh create (transient guest)
//   await destroy(a, g.name); await start(a, g.name)      // OpenStack-style hard restart
//   await shutdown(a, g.name)              // ACPI power button: the sequence guest powers itself off
//   await reboot(a, g.name)                // virsh reboot (ACPI, libvirt's fake reboot: same QEMU, new boot)
//   await reset(a, g.name)                 // virsh reset (hard reset, same QEMU, new boot)
//   await managedSave(a, g.name); await start(a, g.name)  // managedsave + start = restore (same boot)
//   await save(a, g.name, file); await restore(a, file)     // virsh save / restore (same boot)
//   await migrate(a, b, g.name, lab)        // live, over a unix socket in lab.socketsDir (docs/LAB.md)
//   await domState(a, g.name)              // 'running' | 'shut off' | ... | undefined (no such domain)
//   await waitForSeq(() => readInside(a, g.serialPath!), { boots: 1, minLast: 50 })
//   await waitForMoreLines(read, { after: report })       // output grows beyond a previous report
//   await consoleReadLine(lab, b, g.name)  // attach virsh console in tmux, read one sequence line, detach
//   bootsOf(text) / lastSeq(text)          // shortcuts over checker.ts
//
// The sequence guest is a boot sector: it answers the ACPI power button by powering off (seqguest.asm),
// so `virsh shutdown` and `virsh reboot` (mode acpi, the QEMU default without an agent) are real.
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkHistory, parseSeqLine, type HistoryReport } from './checker.js';
import type { Guest } from './guest.js';
import type { Lab, LabHost } from './harness.js';
import { patient } from './patience.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `fn` every `intervalMs` until it returns a value that is not undefined/false, for at most
 * `timeoutMs` as written for a fast machine (stretched to this one: patience.ts).
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const ceiling = patient(opts.timeoutMs ?? 30_000);
  const end = Date.now() + ceiling;
  let last: unknown;
  while (true) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(
        `timed out after ${ceiling} ms waiting for ${what}` + (last ? `: ${(last as Error).message}` : ''),
      );
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

function xmlFile(lab: Lab | undefined, host: LabHost, g: Guest): string {
  const file = join(lab?.dir ?? host.dir, `${g.name}-${host.name}.xml`);
  writeFileSync(file, g.xml);
  return file;
}

/** virsh define + start. The XML file lies in the host dir (shared /tmp). */
export async function defineAndStart(host: LabHost, g: Guest): Promise<void> {
  await define(host, g);
  await start(host, g.name);
}

export async function define(host: LabHost, g: Guest): Promise<void> {
  await prepareSerialDir(host, g);
  await host.virsh('define', xmlFile(undefined, host, g));
}

export async function createTransient(host: LabHost, g: Guest): Promise<void> {
  await prepareSerialDir(host, g);
  await host.virsh('create', xmlFile(undefined, host, g));
}

/** Creates the folder of the guest's serial file / log on a host (Nova's instance dir, as pre_live_migration does). */
export async function prepareSerialDir(host: LabHost, g: Guest): Promise<void> {
  if (!g.serialPath) return;
  const dir = g.serialPath.slice(0, g.serialPath.lastIndexOf('/'));
  const r = await host.exec(['mkdir', '-p', dir]);
  if (r.exitCode !== 0) throw new Error(`mkdir ${dir} on ${host.name}: ${r.stderr}`);
}

export async function start(host: LabHost, name: string): Promise<void> {
  await host.virsh('start', name);
}

export async function destroy(host: LabHost, name: string): Promise<void> {
  await host.virsh('destroy', name);
}

export async function domState(host: LabHost, name: string): Promise<string | undefined> {
  const r = await host.virshResult('domstate', name);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** Waits for a state; 'shut off' also matches a transient domain that is gone. */
export async function waitForState(
  host: LabHost,
  name: string,
  state: string,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    `${name} on ${host.name} to be ${state}`,
    async () => {
      const now = await domState(host, name);
      return now === state || (state === 'shut off' && now === undefined);
    },
    { timeoutMs },
  );
}

/** ACPI shutdown; the sequence guest powers off at once. Waits for 'shut off'. */
export async function shutdown(host: LabHost, name: string, timeoutMs = 30_000): Promise<void> {
  await host.virsh('shutdown', name);
  await waitForState(host, name, 'shut off', timeoutMs);
}

/** virsh reboot (ACPI): libvirt's fake reboot keeps QEMU and resets the guest: a new boot token. */
export async function reboot(host: LabHost, name: string): Promise<void> {
  await host.virsh('reboot', name);
}

/** virsh reset: hard reset of the running QEMU: a new boot token, no hook event, no reopen of logs. */
export async function reset(host: LabHost, name: string): Promise<void> {
  await host.virsh('reset', name);
}

export async function managedSave(host: LabHost, name: string): Promise<void> {
  await host.virsh('managedsave', name);
}

export async function save(host: LabHost, name: string, file: string): Promise<void> {
  await host.virsh('save', name, file);
}

export async function restore(host: LabHost, file: string): Promise<void> {
  await host.virsh('restore', file);
}

export interface MigrateOptions {
  /** --persistent: define the guest on the destination. */
  persistent?: boolean;
  /** --undefinesource: undefine it on the source. */
  undefineSource?: boolean;
  extra?: string[];
}

/** Live migration over a unix socket in the lab dir (no network needed): docs/LAB.md's command. */
export async function migrate(
  from: LabHost,
  to: LabHost,
  name: string,
  lab: Lab,
  opts: MigrateOptions = {},
): Promise<void> {
  const sock = join(lab.socketsDir, `${name}-${Date.now()}.sock`);
  const args = ['migrate', '--live', '--unsafe'];
  if (opts.persistent) args.push('--persistent');
  if (opts.undefineSource) args.push('--undefinesource');
  args.push(...(opts.extra ?? []), name, to.uri, '--migrateuri', `unix://${sock}`);
  await from.virsh(...args);
}

/** Reads a file as seen inside a host ('' if it does not exist). */
export function readInside(host: LabHost, insidePath: string): string {
  try {
    return readFileSync(host.outside(insidePath), 'utf8');
  } catch {
    return '';
  }
}

/** Waits until `read()` holds at least `boots` boots and the newest reached `minLast`; returns the report. */
export async function waitForSeq(
  read: () => string | Promise<string>,
  opts: { boots?: number; minLast?: number; timeoutMs?: number; notBoots?: string[] } = {},
): Promise<HistoryReport> {
  return waitFor(
    `sequence output (${opts.boots ?? 1} boots, last >= ${opts.minLast ?? 1})`,
    async () => {
      const r = checkHistory(await read());
      const newest = r.boots[r.boots.length - 1];
      // notBoots: an append-mode log still ends with the previous boot until the new one prints.
      return r.boots.length >= (opts.boots ?? 1) &&
        newest &&
        newest.last >= (opts.minLast ?? 1) &&
        !opts.notBoots?.includes(newest.boot)
        ? r
        : undefined;
    },
    { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 100 },
  );
}

/** Waits until the newest boot in `read()` went `more` lines beyond `after` (same or new boot). */
export async function waitForMoreLines(
  read: () => string | Promise<string>,
  opts: { after?: HistoryReport; more?: number; timeoutMs?: number } = {},
): Promise<HistoryReport> {
  const before = opts.after?.boots[opts.after.boots.length - 1];
  const more = opts.more ?? 20;
  return waitFor(
    `${more} more sequence lines`,
    async () => {
      const r = checkHistory(await read());
      const newest = r.boots[r.boots.length - 1];
      if (!newest) return undefined;
      if (!before || newest.boot !== before.boot) return newest.last >= more ? r : undefined;
      return newest.last >= before.last + more ? r : undefined;
    },
    { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 100 },
  );
}

export function bootsOf(text: string): string[] {
  return checkHistory(text).boots.map((b) => b.boot);
}

export function lastSeq(text: string): { boot: string; seq: number } | undefined {
  const lines = text.split('\n');
  for (let i = lines.length - 2; i >= 0; i--) {
    const s = parseSeqLine(lines[i]!);
    if (s) return { boot: s.boot, seq: s.seq };
  }
  return undefined;
}

let consoleSessions = 0;

async function tmux(lab: Lab, ...args: string[]) {
  return execa('tmux', ['-f', '/dev/null', '-S', lab.tmuxSocket, ...args], { reject: false });
}

export interface ConsoleRead {
  /** The first complete sequence line read from the console. */
  line: string;
  seq: number;
  boot: string;
  /** The whole pane text when the line was read. */
  screen: string;
}

/**
 * Attaches `virsh console` (run from outside, over the host's URI) in a tmux session of the lab,
 * waits for a complete sequence line, detaches with Ctrl-] and checks that virsh exited.
 */
export async function consoleReadLine(
  lab: Lab,
  host: LabHost,
  name: string,
  opts: { timeoutMs?: number; force?: boolean } = {},
): Promise<ConsoleRead> {
  const session = `console${++consoleSessions}`;
  const argv = ['virsh', '-c', host.uri, 'console', name, ...(opts.force ? ['--force'] : [])];
  const r = await tmux(lab, 'new-session', '-d', '-s', session, '-x', '200', '-y', '50', ...argv);
  if (r.exitCode !== 0) throw new Error(`tmux new-session: ${r.stderr}`);
  // Teardown kills the tmux server by this pid (harness.ts).
  const pid = await tmux(lab, 'display-message', '-p', '-t', session, '#{pid}');
  if (pid.exitCode === 0) writeFileSync(`${lab.tmuxSocket}.pid`, pid.stdout.trim());
  await tmux(lab, 'set-option', '-t', session, 'remain-on-exit', 'on');
  let screen = '';
  try {
    const found = await waitFor(
      `a sequence line on virsh console ${name} (${host.name})`,
      async () => {
        const cap = await tmux(lab, 'capture-pane', '-p', '-J', '-S', '-200', '-t', session);
        screen = cap.stdout;
        const lines = screen.split('\n');
        // The last non-empty line may still be printing: only lines followed by another count.
        for (let i = lines.length - 2; i >= 0; i--) {
          const s = parseSeqLine(lines[i]!.trimEnd());
          if (s && lines.slice(i + 1).some((l) => l.trim() !== ''))
            return { line: lines[i]!.trimEnd(), ...s };
        }
        const dead = await tmux(lab, 'display-message', '-p', '-t', session, '#{pane_dead}');
        if (dead.stdout.trim() === '1') throw new Error(`virsh console exited:\n${screen}`);
        return undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: 200 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- screen ---\n${screen}`);
    });
    // Detach: Ctrl-] is virsh console's escape.
    await tmux(lab, 'send-keys', '-t', session, 'C-]');
    await waitFor(
      'virsh console to detach',
      async () =>
        (await tmux(lab, 'display-message', '-p', '-t', session, '#{pane_dead}')).stdout.trim() === '1',
      { timeoutMs: 10_000 },
    );
    return { ...found, screen };
  } finally {
    await tmux(lab, 'kill-session', '-t', session);
  }
}
