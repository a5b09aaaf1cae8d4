// Whether a start (`prepare begin`) is the guest's arrival from another host, and whom to ask for
// the history it left there (pure). Nova's cold migration, resize, evacuate, unshelve and rebuild
// define a freshly generated XML on the new host and start it: no `migrate begin` runs, and the XML
// carries none of our metadata. See README "Migration and several hosts".
import type { DomainState } from '../store/domain-state.js';
import type { ConsolelogMetadata } from '../xml/metadata.js';
import { fetchOwed, type FetchRecord } from './state.js';

export interface ArrivalInput {
  /** This host (config host_name). */
  host: string;
  /** Configured peers (may include this host). */
  peers: readonly string[];
  /** Our metadata in the XML the hook got (host and generation of the hint, if any). */
  metadata: ConsolelogMetadata;
  /** domain.json as it was before this start was recorded. */
  state: DomainState;
  /** The domain's fetch record, if any. */
  record: FetchRecord | undefined;
  /** This start continues an incoming live migration (its fetch began at `migrate begin`). */
  continuing: boolean;
  /** The store's next seal number after this start's seals (undefined: store not readable). */
  nextSeq?: number;
}

export type ArrivalPlan =
  | { fetch: false; why: string }
  | {
      fetch: true;
      why: string;
      /** The hint's host when the XML names another host. */
      previousHost?: string;
      previousGeneration?: number;
      /** Hosts to ask: the hint first, then the peers, then hosts an unfinished fetch still owes. */
      candidates: string[];
      /** Own seals from this number on came after the arrival (an owed fetch's earlier mark is kept). */
      sealsFrom?: number;
    };

/** The decision of `prepare begin`: fetch the earlier history or not, and from whom. */
export function decideArrival(input: ArrivalInput): ArrivalPlan {
  const { host, metadata, state, record } = input;
  if (input.continuing) return { fetch: false, why: 'incoming live migration: fetched since migrate begin' };
  const others = Object.keys(state.hosts).filter((h) => h !== host);
  // Another host in this domain.json means the store itself is shared: its history is here already.
  if (others.length) return { fetch: false, why: `store shared with ${others.join(', ')}: nothing to copy` };
  const seen = state.hosts[host] !== undefined;
  const hint = metadata.host && metadata.host !== host ? metadata.host : undefined;
  const ourGeneration = state.hosts[host]?.generation ?? 0;
  let why: string;
  if (hint) {
    // A persistent definition can carry an old hint: history up to our generation is here already.
    if (seen && metadata.generation !== undefined && metadata.generation < ourGeneration)
      return {
        fetch: false,
        why: `hint ${hint} (generation ${metadata.generation}) is older than this host's`,
      };
    why = `the XML says the guest ran on ${hint}`;
  } else if (!seen) {
    why = 'this host never saw the domain';
  } else if (metadata.host === host) {
    return { fetch: false, why: 'a start on the host that ran it last' };
  } else {
    // An enabled definition names its host; one without our metadata was generated anew elsewhere.
    why = 'definition without our metadata (regenerated: cold migration, resize, rebuild?)';
  }
  const carried = fetchOwed(record) ? record.candidates : [];
  const candidates = [...new Set([...(hint ? [hint] : []), ...input.peers, ...carried])].filter(
    (h) => h !== host,
  );
  if (!candidates.length) return { fetch: false, why: `${why}, but no peers are configured` };
  // An arrival while an earlier one is still owed: what was sealed since that one came after it too.
  const marks = [input.nextSeq, fetchOwed(record) ? record.sealsFrom : undefined].filter(
    (n): n is number => n !== undefined,
  );
  return {
    fetch: true,
    why,
    ...(hint ? { previousHost: hint } : {}),
    ...(hint && metadata.generation !== undefined ? { previousGeneration: metadata.generation } : {}),
    candidates,
    ...(marks.length ? { sealsFrom: Math.min(...marks) } : {}),
  };
}

/** A host's part of the history that only that host held (its live files), as `status` reports it. */
export interface MissingPart {
  host: string;
  /** Since when: the start on that host after which nothing of its output reached the store. */
  since: string;
  why: string;
}

/**
 * Hosts of a shared domain.json that started the guest and never stopped it (no `release`), while
 * a later start happened elsewhere: their output since that start stayed in their own live_dir
 * (the host died: evacuate). Sealed history of theirs is in the shared store; this part is not.
 */
export function missingParts(state: DomainState): MissingPart[] {
  const events = Object.entries(state.hosts).flatMap(([host, h]) =>
    h.lastEvent ? [{ host, ...h.lastEvent }] : [],
  );
  const out: MissingPart[] = [];
  for (const e of events) {
    if (e.kind !== 'prepare') continue;
    const later = events.find((o) => o.host !== e.host && o.at > e.at);
    if (!later) continue;
    out.push({
      host: e.host,
      since: e.at,
      why: `started there at ${e.at} and never stopped (no release) before ${later.host} started it at ${later.at}: its output since is only in ${e.host}'s live files`,
    });
  }
  return out;
}
