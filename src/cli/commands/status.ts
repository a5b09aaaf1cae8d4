// virt-consolelog status: per domain, how its console output is captured and what the store holds.
import { EXIT, type Command } from '../command.js';
import { expectPositionals, flagOpt } from '../options.js';
import { assertStoreReadable } from '../store-access.js';
import type { Config } from '../../config/schema.js';
import { currentName, type DomainState } from '../../store/domain-state.js';
import { listDomainUuids, readDomainStateOf } from '../../store/find.js';
import { listSegments } from '../../store/segments.js';
import { liveBytesOf } from '../../store/retention.js';
import { readJournal } from '../../journal/journal.js';
import { HistoryError, openHistory, resolveOne } from '../../history/reader.js';
import { definitionCapture } from '../../definitions/operations.js';
import { uriFrom } from '../../definitions/virsh.js';
import { describeFetch, readFetchRecord } from '../../transfer/state.js';
import { missingParts, type MissingPart } from '../../transfer/decide-arrival.js';
import { formatBytes } from '../../util/bytes.js';
import { journaldStatus } from '../../journald/status.js';
import { formatReaderChain, readerChainStatus, type ReaderChainStatus } from '../../chain/status.js';
import { describeCapture, readCaptureStatus } from '../../capture/status.js';
import { pidAlive } from '../../util/pid.js';

const USAGE = `usage: virt-consolelog status [DOMAIN] [--json]

Per domain (all domains of the store without DOMAIN): capture mode on each host
  logged       every serial/console has an append-mode log (or append file)
  sealed-only  a source is truncated at each start: kept by sealing it before every start
  degraded     a source was refused (outside allowed roots, symlink) or nothing is logged; why
live and archived bytes against domain_cap_bytes, boots, hosts, last event, last problem (journal),
and, when libvirt knows the domain, whether its persistent definition, its live XML, or neither
captures the console, and why not (definition: ...); with the capture service running, the bytes/s it
sends to the host journal and the lines the per-guest bound held back (journal: ...).
  --json       a JSON array of these objects, one per domain (one element with DOMAIN)`;

export interface DomainStatus {
  uuid: string;
  name: string | null;
  names: string[];
  hosts: {
    host: string;
    generation: number;
    mode: 'logged' | 'sealed-only' | 'degraded';
    why: string[];
    devices: Record<string, { path: string; kind: string; truncating: boolean }>;
    lastEvent: { kind: string; at: string; reason?: string } | null;
  }[];
  liveBytes: number;
  /** live_dir is not readable by this user (not root: virtlogd's folder and files are root's). */
  liveUnreadable?: true;
  archivedBytes: number;
  archivedPlainBytes: number;
  segments: number;
  capBytes: number;
  boots: number;
  lastEvent: { host: string; kind: string; at: string; reason?: string } | null;
  lastProblem: { at: string; op: string; problems: string[] } | null;
  /** libvirt's view (src/definitions/state.ts): persistent definition / live XML captured, and why not. */
  definition?: { persistent: string; live: string; summary: string };
  /** History fetch from a previous host (src/transfer/state.ts), when one was owed. */
  fetch?: { status: string; summary: string };
  /** What the capture service forwards to the host journal (src/journald/), when it has seen the domain. */
  journal?: ReturnType<typeof journaldStatus>;
  /** Output only a host that left without a stop held (src/transfer/decide-arrival.ts missingParts). */
  missing?: MissingPart[];
  /** What a management layer's reader (Nova's) returns of logs read in place here (src/chain/). */
  readerChains?: ReaderChainStatus[];
  /** The capture service on this host (issue 17): rate and bytes lost to virtlogd per device. */
  capture?: string;
}

export function captureMode(h: DomainState['hosts'][string]): {
  mode: DomainStatus['hosts'][number]['mode'];
  why: string[];
} {
  const why = [...(h.degraded ?? [])];
  const devices = Object.values(h.devices);
  if (!devices.length && !why.length) why.push('no serial or console has a log or file backend');
  if (why.length) return { mode: 'degraded', why };
  const trunc = Object.entries(h.devices).filter(([, d]) => d.truncating);
  if (trunc.length)
    return {
      mode: 'sealed-only',
      why: trunc.map(
        ([dev, d]) =>
          `${dev}: ${d.path} is truncated at each start (sealed before it; run virt-consolelog enable)`,
      ),
    };
  return { mode: 'logged', why: [] };
}

export async function domainStatus(config: Config, uuid: string, state: DomainState): Promise<DomainStatus> {
  const segments = listSegments(config, uuid);
  let boots = 0;
  try {
    const h = await openHistory(config, uuid);
    boots = h.boots.length;
    h.close();
  } catch (e) {
    if (!(e instanceof HistoryError)) throw e;
  }
  const names = state.names.map((n) => n.name);
  const journal = readJournal(config, { uuid, names });
  const problem = journal.find((e) => e.problems.length);
  let lastEvent: DomainStatus['lastEvent'] = null;
  for (const [host, h] of Object.entries(state.hosts))
    if (h.lastEvent && (!lastEvent || h.lastEvent.at > lastEvent.at)) lastEvent = { host, ...h.lastEvent };
  return {
    uuid,
    name: currentName(state) ?? null,
    names,
    hosts: Object.entries(state.hosts).map(([host, h]) => ({
      host,
      generation: h.generation,
      ...captureMode(h),
      devices: Object.fromEntries(
        Object.entries(h.devices).map(([d, v]) => [
          d,
          { path: v.path, kind: v.kind, truncating: v.truncating },
        ]),
      ),
      lastEvent: h.lastEvent ?? null,
    })),
    ...liveBytes(config, state),
    archivedBytes: segments.reduce((n, s) => n + s.storedBytes, 0),
    archivedPlainBytes: segments.reduce((n, s) => n + s.plainBytes, 0),
    segments: segments.length,
    capBytes: config.domainCapBytes,
    boots,
    lastEvent,
    lastProblem: problem
      ? { at: problem.at, op: `${problem.op} ${problem.subop}`, problems: problem.problems }
      : null,
  };
}

function liveBytes(config: Config, state: DomainState): { liveBytes: number; liveUnreadable?: true } {
  try {
    return { liveBytes: liveBytesOf(config, state) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return { liveBytes: 0, liveUnreadable: true };
    throw e;
  }
}

/** A problem's first line: the journal keeps stack traces of unexpected errors for --json and bug reports. */
function firstLine(problem: string): string {
  return problem.split('\n', 1)[0] ?? problem;
}

export function formatStatus(s: DomainStatus): string {
  const lines = [`${s.name ?? '(no name)'} ${s.uuid}`];
  if (s.names.length > 1) lines.push(`  names seen: ${s.names.join(', ')}`);
  for (const h of s.hosts) {
    lines.push(
      `  host ${h.host} (generation ${h.generation}): ${h.mode}${h.lastEvent ? `, last ${h.lastEvent.kind} at ${h.lastEvent.at}${h.lastEvent.reason ? ` (${h.lastEvent.reason})` : ''}` : ''}`,
    );
    for (const w of h.why) lines.push(`    ${w}`);
    for (const [d, v] of Object.entries(h.devices))
      lines.push(`    ${d}: ${v.kind} ${v.path}${v.truncating ? ' (truncating)' : ''}`);
  }
  const cap = s.capBytes ? ` of cap ${formatBytes(s.capBytes)}` : '';
  lines.push(
    `  disk: ${formatBytes(s.liveBytes + s.archivedBytes)}${cap} (live ${s.liveUnreadable ? 'not readable by this user' : formatBytes(s.liveBytes)}, archive ${formatBytes(s.archivedBytes)} holding ${formatBytes(s.archivedPlainBytes)} in ${s.segments} segments)`,
  );
  lines.push(`  boots: ${s.boots}`);
  if (s.definition) lines.push(`  definition: ${s.definition.summary}`);
  if (s.fetch) lines.push(`  history fetch: ${s.fetch.summary}`);
  if (s.journal) lines.push(`  journal: ${s.journal.summary}`);
  for (const m of s.missing ?? []) lines.push(`  missing from ${m.host} since ${m.since}: ${m.why}`);
  for (const c of s.readerChains ?? []) lines.push(formatReaderChain(c));
  if (s.capture) lines.push(`  capture: ${s.capture}`);
  if (s.lastProblem)
    lines.push(
      `  last problem: ${s.lastProblem.at} ${s.lastProblem.op}: ${s.lastProblem.problems.map(firstLine).join('; ')}`,
    );
  return lines.join('\n') + '\n';
}

export const statusCommand: Command = {
  usage: USAGE,
  options: { json: { type: 'boolean' } },
  async run(args, ctx) {
    const json = flagOpt(args, 'json');
    const rest = expectPositionals(args, 0, 1, 'DOMAIN');
    const { config } = ctx.config();
    assertStoreReadable(config);
    let targets: { uuid: string; state: DomainState }[];
    if (rest[0]) {
      try {
        const r = resolveOne(config, rest[0]);
        targets = [{ uuid: r.uuid, state: r.state }];
      } catch (e) {
        if (e instanceof HistoryError) {
          ctx.io.stderr.write(`virt-consolelog status: ${e.message}\n`);
          return EXIT.notFound;
        }
        throw e;
      }
    } else {
      targets = listDomainUuids(config).flatMap((uuid) => {
        const state = readDomainStateOf(config, uuid);
        return state ? [{ uuid, state }] : [];
      });
    }
    const all: DomainStatus[] = [];
    const capture = readCaptureStatus(config);
    const captureRuns = !!capture && pidAlive(capture.pid);
    for (const t of targets) {
      const s = await domainStatus(config, t.uuid, t.state);
      if (t.state.hosts[config.hostName])
        s.capture = describeCapture(capture, captureRuns, t.uuid, Date.now());
      const fetch = readFetchRecord(config.stateDir, t.uuid);
      if (fetch) s.fetch = { status: fetch.status, summary: describeFetch(fetch) };
      const journal = journaldStatus(config.stateDir, t.uuid);
      if (journal) s.journal = journal;
      const missing = missingParts(t.state);
      if (missing.length) s.missing = missing;
      const chains = await readerChainStatus(config, t.uuid, t.state);
      if (chains.length) s.readerChains = chains;
      // libvirt unreachable or domain unknown to it: the store's view alone.
      const d = await definitionCapture(t.uuid, config, {
        uri: uriFrom(undefined, ctx.io.env),
        env: ctx.io.env,
        timeoutMs: 10_000,
      }).catch(() => undefined);
      if (d) s.definition = { persistent: d.persistent.level, live: d.live.level, summary: d.summary };
      all.push(s);
      if (!json) ctx.io.stdout.write(formatStatus(s));
    }
    // One shape with or without DOMAIN: an array (of one domain, or of every domain).
    if (json) ctx.io.stdout.write(JSON.stringify(all, null, 2) + '\n');
    else if (!all.length) ctx.io.stdout.write(`no domains in ${config.logRoot}\n`);
    return EXIT.ok;
  },
};
