// show --all: every domain of this host's store, each device, one output. With -f the domains are
// followed together (each line written whole) and the store is looked at again for new ones: the
// JSON-lines feed for log shippers (`show --all -f -o json`).
import type { Config } from '../config/schema.js';
import { HistoryError, knownDevices, type ReadOptions } from '../history/reader.js';
import { currentName } from '../store/domain-state.js';
import { listDomainUuids, readDomainStateOf } from '../store/find.js';
import type { ShowArgs, ShowPlan } from './show-print.js';
import { printDomain } from './show-print.js';

/** How often -f looks for domains that appeared in the store since (a new guest's first start). */
export const RESCAN_MS = 2000;

export interface StoreDomain {
  uuid: string;
  name: string | undefined;
  devices: string[];
}

export function listStoreDomains(config: Config): StoreDomain[] {
  return listDomainUuids(config).flatMap((uuid) => {
    const state = readDomainStateOf(config, uuid);
    return state ? [{ uuid, name: currentName(state), devices: knownDevices(state, []) }] : [];
  });
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export async function followAllDomains(
  config: Config,
  o: ShowArgs,
  ro: ReadOptions,
  p: ShowPlan,
  signal: AbortSignal,
): Promise<void> {
  const one = async (d: StoreDomain, device: string, opts: ReadOptions): Promise<boolean> => {
    try {
      await printDomain(config, d.uuid, { name: d.name, uuid: d.uuid }, { ...opts, device }, p);
      return true;
    } catch (e) {
      // A device with nothing recorded yet: retried at the next scan while following.
      if (e instanceof HistoryError) return false;
      throw e;
    }
  };
  if (!o.follow) {
    for (const d of listStoreDomains(config)) for (const dev of d.devices) await one(d, dev, ro);
    return;
  }
  const running = new Map<string, Promise<void>>();
  let failure: { e: unknown } | undefined;
  let first = true;
  while (!signal.aborted && !failure) {
    for (const d of listStoreDomains(config))
      for (const dev of d.devices) {
        const key = `${d.uuid}:${dev}`;
        if (running.has(key)) continue;
        // A domain found after the start is new: all of it is printed.
        const opts: ReadOptions = first ? ro : { ...ro, lines: undefined };
        const run = one(d, dev, opts).then(
          (ok) => {
            if (!ok) running.delete(key);
          },
          (e: unknown) => {
            failure ??= { e };
          },
        );
        running.set(key, run);
      }
    first = false;
    await sleep(RESCAN_MS, signal);
  }
  await Promise.all(running.values());
  if (failure) throw failure.e;
}
