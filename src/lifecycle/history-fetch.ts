// Starting history fetches from hooks: at `migrate begin` on the destination (after the rewrite),
// and as a retry at later hook events of a domain whose fetch is not complete. The hook only writes
// the fetch record and starts a DETACHED job (`virt-consolelog sync UUID --job`): libvirt reads
// the hook's stdout/stderr until EOF, so the job gets no fd of the hook's, and the hook returns
// in milliseconds whatever the network does.
import { readDomainIdentity } from '../xml/chardevs.js';
import type { RewriteResult } from '../xml/rewrite.js';
import { sharedWith } from '../transfer/shared.js';
import { fetchCandidates, markIncomingMigration } from '../transfer/start.js';
import {
  fetchOwed,
  newFetchRecord,
  readFetchRecord,
  writeFetchRecord,
  type FetchRecord,
} from '../transfer/state.js';
import { cliBundle, spawnDetached } from '../util/jobs.js';
import { pidAlive } from '../util/pid.js';
import { domainOf, type HookContext } from './context.js';

/**
 * Starts `virt-consolelog sync UUID --job` (first fetch: polls for the source's final seal) or
 * `--quiet` (a retry: one pass) detached from the hook: no fd shared, not waited for.
 */
export function spawnFetchJob(
  uuid: string,
  env: NodeJS.ProcessEnv,
  mode: '--job' | '--quiet',
): Promise<number | undefined> {
  const args = [cliBundle(env), 'sync', uuid, mode];
  // The hook's environment is minimal; the job needs only the config location from it.
  const jobEnv: NodeJS.ProcessEnv = {
    PATH: env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LC_ALL: 'C',
    HOME: env.HOME || '/root',
    ...(env.VIRT_CONSOLELOG_CONFIG ? { VIRT_CONSOLELOG_CONFIG: env.VIRT_CONSOLELOG_CONFIG } : {}),
  };
  // Errors of the job are its own business (it records them); the hook never waits for it.
  return spawnDetached(process.execPath, args, { env: jobEnv });
}

/**
 * Called by the `migrate begin` handler after the rewrite: records what this host now owes itself
 * (the guest's history before it arrived) and starts the detached job that fetches it.
 * Never throws into the hook for network reasons: all it does synchronously is local I/O.
 */
export async function startHistoryFetch(
  ctx: HookContext,
  rewrite: RewriteResult,
): Promise<FetchRecord | undefined> {
  if (ctx.event.op !== 'migrate') return undefined;
  const { config } = ctx;
  const { uuid, name } = readDomainIdentity(domainOf(ctx)); // the input: already parsed, same UUID
  markIncomingMigration(config, uuid, ctx.now());
  const previous = readFetchRecord(config.stateDir, uuid);
  const unfinished = fetchOwed(previous);
  // An earlier hop's fetch that never finished stays owed: its hosts are asked too (after the new one).
  const candidates = [
    ...new Set([
      ...fetchCandidates(config, rewrite.previousHost),
      ...(unfinished ? previous.candidates : []),
    ]),
  ].filter((h) => h !== config.hostName);
  const rec = newFetchRecord({
    uuid,
    ...(name !== undefined ? { domain: name } : {}),
    ...(rewrite.previousHost ? { previousHost: rewrite.previousHost } : {}),
    ...(rewrite.generation > 0 ? { previousGeneration: rewrite.generation - 1 } : {}),
    candidates,
    now: ctx.now(),
    // An owed arrival's mark stays: its seals still go after that history once it arrives.
    ...(unfinished && previous.sealsFrom !== undefined ? { sealsFrom: previous.sealsFrom } : {}),
  });
  if (candidates.length === 0) {
    rec.status = 'nothing';
    rec.lastError = rewrite.previousHost
      ? 'the guest comes from this host'
      : 'no previous host known: no metadata hint in the XML and no peers configured';
    writeFetchRecord(config.stateDir, rec);
    ctx.note(`history fetch: ${rec.lastError}`);
    return rec;
  }
  const shared = candidates.find((h) => sharedWith(config, uuid, h));
  if (shared) {
    rec.status = 'nothing';
    rec.source = shared;
    writeFetchRecord(config.stateDir, rec);
    ctx.note(`history fetch: store shared with ${shared}, nothing to copy`);
    return rec;
  }
  if (unfinished) {
    ctx.report(
      `history fetch from ${previous.source ?? previous.candidates.join(',')} was ${previous.status}; retried now`,
    );
  }
  writeFetchRecord(config.stateDir, rec);
  const pid = await spawnFetchJob(uuid, ctx.env, '--job');
  ctx.note(`history fetch from ${candidates.join(',')} started (job ${pid ?? '?'})`);
  return rec;
}

/**
 * Retry hook for later events of a domain (prepare, started, release): if its fetch is failed or
 * still waiting for the source's seal and no job is at work, starts the job again. Cheap when
 * there is nothing to do (one missing file).
 */
export async function retryPendingFetch(ctx: HookContext, uuid: string): Promise<boolean> {
  const rec = readFetchRecord(ctx.config.stateDir, uuid);
  if (!rec || rec.status === 'complete' || rec.status === 'nothing') return false;
  if (rec.status === 'running' && rec.pid !== undefined && pidAlive(rec.pid)) return false;
  const pid = await spawnFetchJob(uuid, ctx.env, '--quiet');
  ctx.note(`history fetch retried (${rec.status}; job ${pid ?? '?'})`);
  return true;
}
