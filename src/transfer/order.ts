// The store side of placing history after a fetch (decide-order.ts decides): this host's
// generation raised above a listing's, its seals since the arrival placed after the fetched
// history, and copies held here given the later order their origin set. One store lock.
import type { Config } from '../config/schema.js';
import { hostState, withHost } from '../store/domain-state.js';
import { listArchive, setOrderGenerations } from '../store/segments.js';
import { withStore } from '../store/session.js';
import { adoptOrders, decideOrder } from './decide-order.js';
import { originId, type Listing } from './protocol.js';

/** The origin a listed segment names in its sidecar (set when the peer imported it). */
function importedFromOf(sidecar: Record<string, unknown>): { host: string; key: string } | undefined {
  const f = sidecar.importedFrom as { host?: unknown; key?: unknown } | undefined;
  return typeof f?.host === 'string' && typeof f.key === 'string' ? { host: f.host, key: f.key } : undefined;
}

/**
 * Makes this host's generation for the domain at least `min` (the listing's highest + 1): the
 * history fetched from a peer precedes everything this host seals from now on, even when the XML
 * carried no (or a stale) generation hint. What this host sealed since the arrival (`sealsFrom`)
 * before this moment is placed after the fetched history too (decide-order.ts), in the same lock.
 */
export async function raiseGeneration(
  config: Config,
  uuid: string,
  listing: Listing,
  sealsFrom: number | undefined,
  log: (l: string) => void,
): Promise<number | undefined> {
  const min = listing.maxGeneration + 1;
  return withStore(config, uuid, (s) => {
    const h = hostState(s.domain, config.hostName);
    if (h.generation < min) {
      log(
        `generation of ${config.hostName} raised from ${h.generation} to ${min} (after the fetched history)`,
      );
      s.domain = withHost(s.domain, config.hostName, { ...h, generation: min });
      s.save(); // raised before any sidecar: a crash between never leaves later seals below them
    }
    const held = listArchive(s.archive);
    const plan = decideOrder({
      host: config.hostName,
      sealsFrom,
      above: min,
      held,
      listed: listing.segments.map((l) => {
        const from = importedFromOf(l.sidecar);
        return { host: l.host, key: l.key, ...(from ? { importedFrom: from } : {}) };
      }),
    });
    if (plan.moved) log(`seals since the arrival up to here keep their order: ${plan.moved}`);
    const adopted = adoptOrders(
      listing.segments.map((l) => ({
        id: originId(l.sidecar, l.key, l.host, l.sha256),
        ...(Number.isSafeInteger(l.sidecar.orderGeneration)
          ? { orderGeneration: l.sidecar.orderGeneration as number }
          : {}),
      })),
      held.map((h) => ({
        id: originId(h as unknown as Record<string, unknown>, h.key, h.host, h.sha256),
        key: h.key,
        generation: h.generation,
        ...(h.orderGeneration !== undefined ? { orderGeneration: h.orderGeneration } : {}),
      })),
    );
    if (adopted.length)
      log(
        `${setOrderGenerations(s.archive, adopted, config.logFileMode).length} segment(s) held here take the later order their origin gave them`,
      );
    const changed = setOrderGenerations(s.archive, plan.set, config.logFileMode);
    if (changed.length)
      log(
        `${changed.length} segment(s) sealed here since the arrival now sort at generation ${min}, after the fetched history`,
      );
    return plan.sealsFrom;
  });
}
