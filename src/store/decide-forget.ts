// Which domains' history to forget (pure): domains libvirt no longer lists on this host, whose
// history ended more than undefined_retention_days ago, that this host saw last, with nothing unsealed.
import type { DomainState } from './domain-state.js';

/** What the store says of one domain's history. */
export interface StoredHistory {
  uuid: string;
  /** Newest of every host's last event and every segment's last write (ms); undefined = unknown. */
  lastTime: number | undefined;
  /** The host of the newest last event: only that host's libvirt can tell whether it is still defined. */
  lastHost: string | undefined;
  /** Bytes of this host's live files not sealed yet (0 when not looked at: outside the lock). */
  unsealedBytes: number;
}

/** libvirt's answer: every domain it lists (running or defined), or why it could not be asked. */
export type LibvirtDomains = { uuids: readonly string[] } | { unknown: string };

export interface ForgetInput {
  domains: readonly StoredHistory[];
  defined: LibvirtDomains;
  /** undefined_retention_days; 0 (or less) = keep for ever. */
  graceDays: number;
  now: Date;
  /** This host's name in the store. */
  host: string;
}

export interface ForgetPlan {
  forget: { uuid: string; lastTime: number }[];
  keep: { uuid: string; why: string }[];
  /** Set when nothing at all is forgotten for a reason that holds for every domain. */
  skipped?: string;
}

const DAY_MS = 86_400_000;

/** Why one domain is kept, or undefined when it is to be forgotten. */
export function keepReason(
  d: StoredHistory,
  defined: ReadonlySet<string>,
  graceDays: number,
  now: Date,
  host: string,
): string | undefined {
  if (defined.has(d.uuid.toLowerCase())) return 'libvirt lists it on this host';
  if (d.lastTime === undefined) return 'the age of its history is unknown';
  if (d.lastHost !== host)
    return `its last event was on host ${d.lastHost ?? '(none)'}, whose retention decides`;
  if (now.getTime() - d.lastTime < graceDays * DAY_MS)
    return 'its history is newer than undefined_retention_days';
  if (d.unsealedBytes > 0) return `${d.unsealedBytes} bytes of its live files are not sealed yet`;
  return undefined;
}

/** Pure: which domains' history to forget now. libvirt not reachable = nothing, ever. */
export function planForget(input: ForgetInput): ForgetPlan {
  const plan: ForgetPlan = { forget: [], keep: [] };
  if (!(input.graceDays > 0)) return { ...plan, skipped: 'undefined_retention_days = 0 (keep for ever)' };
  if ('unknown' in input.defined)
    return {
      ...plan,
      skipped: `libvirt could not be asked which domains it lists (${input.defined.unknown})`,
    };
  const defined = new Set(input.defined.uuids.map((u) => u.toLowerCase()));
  for (const d of input.domains) {
    const why = keepReason(d, defined, input.graceDays, input.now, input.host);
    if (why) plan.keep.push({ uuid: d.uuid, why });
    else plan.forget.push({ uuid: d.uuid, lastTime: d.lastTime as number });
  }
  return plan;
}

/** Pure: a domain's last time and host from domain.json and its segments' last write times. */
export function historyOf(
  state: DomainState,
  segmentTimes: readonly string[],
  unsealedBytes = 0,
): StoredHistory {
  let lastTime: number | undefined;
  let lastHost: string | undefined;
  let lastEvent = -Infinity;
  for (const [host, h] of Object.entries(state.hosts)) {
    const at = h.lastEvent ? Date.parse(h.lastEvent.at) : NaN;
    if (Number.isNaN(at)) continue;
    if (at > lastEvent) [lastEvent, lastHost] = [at, host];
    lastTime = Math.max(lastTime ?? at, at);
  }
  for (const s of segmentTimes) {
    const t = Date.parse(s);
    if (!Number.isNaN(t)) lastTime = Math.max(lastTime ?? t, t);
  }
  return { uuid: state.uuid, lastTime, lastHost, unsealedBytes };
}
