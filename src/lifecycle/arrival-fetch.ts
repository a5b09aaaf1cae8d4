// `prepare begin` of a guest that arrives from another host without a live migration (Nova's cold
// migration, resize, evacuate, unshelve, rebuild): records the fetch this host now owes itself and
// starts the same detached job as `migrate begin` (history-fetch.ts). Local I/O only: the hook
// never waits for the network.
import type { HookContext } from './context.js';
import type { DomainState } from '../store/domain-state.js';
import type { ConsolelogMetadata } from '../xml/metadata.js';
import { pidAlive } from '../util/pid.js';
import { decideArrival } from '../transfer/decide-arrival.js';
import { newFetchRecord, readFetchRecord, writeFetchRecord } from '../transfer/state.js';
import { retryPendingFetch, spawnFetchJob } from './history-fetch.js';

export interface ArrivalFacts {
  uuid: string;
  name: string;
  metadata: ConsolelogMetadata;
  /** domain.json before this start was recorded; undefined when the store could not be read. */
  before: DomainState | undefined;
  continuing: boolean;
  /** The store's next seal number once this start's seals were made (undefined: store not used). */
  nextSeq?: number;
}

/**
 * For every start but an incoming live migration's: an arrival gets a new fetch record and job;
 * any other start retries an owed fetch (cheap when none is owed: one missing file).
 */
export async function startArrivalFetch(ctx: HookContext, facts: ArrivalFacts): Promise<void> {
  if (facts.continuing) return;
  const { config } = ctx;
  const record = readFetchRecord(config.stateDir, facts.uuid);
  const plan = facts.before
    ? decideArrival({
        host: config.hostName,
        peers: config.peers,
        metadata: facts.metadata,
        state: facts.before,
        record,
        continuing: facts.continuing,
        ...(facts.nextSeq !== undefined ? { nextSeq: facts.nextSeq } : {}),
      })
    : undefined;
  const busy = record?.status === 'running' && record.pid !== undefined && pidAlive(record.pid);
  if (!plan?.fetch || busy) {
    await retryPendingFetch(ctx, facts.uuid);
    return;
  }
  const rec = newFetchRecord({
    uuid: facts.uuid,
    domain: facts.name,
    ...(plan.previousHost ? { previousHost: plan.previousHost } : {}),
    ...(plan.previousGeneration !== undefined ? { previousGeneration: plan.previousGeneration } : {}),
    candidates: plan.candidates,
    now: ctx.now(),
    arrival: plan.why,
    ...(plan.sealsFrom !== undefined ? { sealsFrom: plan.sealsFrom } : {}),
  });
  writeFetchRecord(config.stateDir, rec);
  const pid = await spawnFetchJob(facts.uuid, ctx.env, '--job');
  ctx.note(
    `arrival (${plan.why}): history fetch from ${plan.candidates.join(',')} started (job ${pid ?? '?'})`,
  );
}
