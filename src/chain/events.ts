// Reader chains at their two events: prepare begin (hook) and the end of a history fetch.
import type { Config } from '../config/schema.js';
import type { HookContext } from '../lifecycle/context.js';
import { hostState } from '../store/domain-state.js';
import { openDomainDir, readDomainState } from '../store/store.js';
import { layoutChain, type ChainOutcome } from './layout.js';
import { chainTargetsAfterFetch, type ChainTarget } from './targets.js';

export function describeChain(o: ChainOutcome): string {
  const what = [
    ...(o.removed.length ? [`removed ${o.removed.join(', ')} (sealed)`] : []),
    ...(o.written ? [`wrote ${o.written.bytes} bytes of earlier history as ${o.written.name}`] : []),
  ];
  return `${o.device}: reader chain (${o.mode}) of ${o.path}: ${what.join('; ') || o.skipped || 'nothing to do'}`;
}

/** At prepare begin (store unlocked again): a failure costs the chain, never the start. */
export async function layoutChains(
  ctx: Pick<HookContext, 'config' | 'note' | 'report'>,
  uuid: string,
  targets: readonly ChainTarget[],
  now: Date,
): Promise<void> {
  for (const t of targets) {
    try {
      ctx.note(describeChain(await layoutChain(ctx.config, uuid, t, now)));
    } catch (e) {
      ctx.report(`${t.device}: reader chain of ${t.path} not laid out: ${(e as Error).message}`);
    }
  }
}

/** After a history fetch brought earlier history: lays it out beside the logs read in place here. */
export async function layoutChainsAfterFetch(
  config: Config,
  uuid: string,
  log: (line: string) => void,
): Promise<void> {
  let targets: ChainTarget[] = [];
  const dir = openDomainDir(config, uuid);
  if (!dir) return;
  try {
    targets = chainTargetsAfterFetch(config, hostState(readDomainState(dir, uuid), config.hostName));
  } finally {
    dir.close();
  }
  for (const t of targets) {
    try {
      log(describeChain(await layoutChain(config, uuid, t)));
    } catch (e) {
      log(`${t.device}: reader chain of ${t.path} not laid out: ${(e as Error).message}`);
    }
  }
}
