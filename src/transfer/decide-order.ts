// Where this host's seals made while an arrival's fetch was owed sort, once a holder's listing is
// here (pure). They are later than everything that holder had before the arrival, but were keyed
// with the generation this host knew then (the hint's, or its own): without a fix they can sort
// among the fetched segments. See README "Every arrival, not only live migration".

/** What the decision needs of a segment this store holds. */
export interface HeldSegment {
  key: string;
  host: string;
  generation: number;
  seq: number;
  orderGeneration?: number;
  importedFrom?: { host: string; key: string };
}

/** What the decision needs of a segment in the holder's listing (its origin, from the sidecar). */
export interface ListedOrigin {
  host: string;
  key: string;
  importedFrom?: { host: string; key: string };
}

export interface OrderInput {
  /** This host. */
  host: string;
  /** This store's next seal number when the arrival was recorded: own seals from it on came after. */
  sealsFrom: number | undefined;
  /** The listing's highest generation + 1: everything fetched sorts below it. */
  above: number;
  held: readonly HeldSegment[];
  listed: readonly ListedOrigin[];
}

export interface OrderPlan {
  /** The mark from now on: moved past own seals the holder already has (the guest ran there after them). */
  sealsFrom: number | undefined;
  set: { key: string; orderGeneration: number }[];
  /** Why the mark moved, for the log. */
  moved?: string;
}

const seqOf = (key: string): number => Number(/^\d{6}-(\d{8})-/.exec(key)?.[1] ?? -1);

/** The own seals since the arrival that sort below `above`, each to be sorted at `above`. */
export function decideOrder(input: OrderInput): OrderPlan {
  const { host, above } = input;
  let sealsFrom = input.sealsFrom;
  if (sealsFrom === undefined) return { sealsFrom, set: [] };
  // The holder has output sealed here since the mark: the guest ran there after it, so its history
  // is partly newer than those seals and its generations cannot place them. They keep their order
  // (as before this fix) and only later seals are placed.
  let moved: string | undefined;
  for (const l of input.listed) {
    const origin = l.importedFrom ?? { host: l.host, key: l.key };
    const seq = seqOf(origin.key);
    if (origin.host !== host || seq < sealsFrom) continue;
    sealsFrom = seq + 1;
    moved = `the peer holds ${origin.key}, sealed here since the arrival: the guest ran there after it`;
  }
  const from = sealsFrom;
  const set = input.held
    .filter(
      (s) =>
        s.host === host &&
        !s.importedFrom &&
        s.seq >= from &&
        Math.max(s.generation, s.orderGeneration ?? 0) < above,
    )
    .map((s) => ({ key: s.key, orderGeneration: above }));
  return { sealsFrom, set, ...(moved ? { moved } : {}) };
}

/** A segment by its identity across stores (origin host, origin key, sha256: protocol.ts originId). */
export interface OrderedCopy {
  id: string;
  key: string;
  generation: number;
  orderGeneration?: number;
}

/**
 * Segments held here whose copy in a listing sorts later: their origin placed them after this
 * host had fetched them. The later order is taken (never a lower one), so every host converges.
 */
export function adoptOrders(
  listed: readonly { id: string; orderGeneration?: number }[],
  held: readonly OrderedCopy[],
): { key: string; orderGeneration: number }[] {
  const later = new Map<string, number>();
  for (const l of listed) if (l.orderGeneration !== undefined) later.set(l.id, l.orderGeneration);
  return held.flatMap((h) => {
    const o = later.get(h.id);
    return o !== undefined && o > Math.max(h.generation, h.orderGeneration ?? 0)
      ? [{ key: h.key, orderGeneration: o }]
      : [];
  });
}
