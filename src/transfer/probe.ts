// One round of `list` requests to many peers at once, bounded in concurrency and time: which of
// them hold anything of a domain. With 100 peers of which 99 never held the guest, an arrival
// costs this one round; the 99 "not mine" answers are remembered for the rest of the arrival.
import type { Config } from '../config/schema.js';
import { parseListing, type Listing } from './protocol.js';
import { callPeerText } from './transport.js';

/** Requests in flight at once. */
export const PROBE_CONCURRENCY = 16;
/** Upper bound for one peer's answer in the round (a slower peer is left to the fetch's retries). */
export const PROBE_TIMEOUT_MS = 10_000;

export interface ProbeResult {
  /** Listings of peers that hold something of the domain. */
  listings: Map<string, Listing>;
  /** Peers whose listing was empty: they never held the guest. */
  notMine: string[];
  /** Peers that did not answer (or answered garbage), with the error: the fetch retries them. */
  failed: Map<string, string>;
}

/** "Not mine": a listing with no segment and no live file of the domain (pure). */
export function isNotMine(listing: Listing): boolean {
  return listing.segments.length === 0 && listing.live.length === 0;
}

/** Runs `work` over `items` with at most `limit` at once (results in input order). */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Asks every peer in `peers` for its listing of `uuid`, PROBE_CONCURRENCY at a time. */
export async function probePeers(
  config: Config,
  uuid: string,
  peers: readonly string[],
): Promise<ProbeResult> {
  const timeoutMs = Math.min(PROBE_TIMEOUT_MS, config.transferTimeoutSeconds * 1000);
  const answers = await mapBounded(peers, PROBE_CONCURRENCY, async (peer) => {
    try {
      const text = await callPeerText(config, peer, ['list', uuid], { timeoutMs });
      return { peer, listing: parseListing(text, uuid) };
    } catch (e) {
      return { peer, error: (e as Error).message };
    }
  });
  const result: ProbeResult = { listings: new Map(), notMine: [], failed: new Map() };
  for (const a of answers) {
    if (a.listing === undefined) result.failed.set(a.peer, a.error ?? 'no answer');
    else if (isNotMine(a.listing)) result.notMine.push(a.peer);
    else result.listings.set(a.peer, a.listing);
  }
  return result;
}

export interface ProbeRound {
  /** Hosts the fetch goes on with, in their order: all but the "not mine" ones. */
  sources: string[];
  /** Every "not mine" answer of this arrival (earlier rounds included). */
  notMine: string[];
  /** Listings taken in the round, for the fetch to use instead of asking again. */
  listings: Map<string, Listing>;
}

/**
 * The fetch's first step: peers answered "not mine" earlier in this arrival are left out, the
 * others (the hint's host apart: it is listed by the fetch itself) are asked in one round.
 */
export async function probeRound(
  config: Config,
  uuid: string,
  sources: readonly string[],
  previousHost: string | undefined,
  knownNotMine: readonly string[],
  log: (line: string) => void,
): Promise<ProbeRound> {
  const skip = new Set(knownNotMine);
  const ask = sources.filter((h) => h !== previousHost && !skip.has(h));
  const started = Date.now();
  const r = ask.length ? await probePeers(config, uuid, ask) : undefined;
  const notMine = [...new Set([...knownNotMine, ...(r?.notMine ?? [])])];
  if (r)
    log(
      `asked ${ask.length} peer(s) in ${Date.now() - started} ms: ${r.listings.size} hold history, ${r.notMine.length} not mine, ${r.failed.size} no answer`,
    );
  const gone = new Set(notMine);
  return {
    sources: sources.filter((h) => h === previousHost || !gone.has(h)),
    notMine,
    listings: r?.listings ?? new Map(),
  };
}
