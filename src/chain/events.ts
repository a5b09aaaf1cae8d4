// Reader chains at their two events: prepare begin (hook) and the end of a history fetch.
import type { Config } from '../config/schema.js';
import type { HookContext } from '../lifecycle/context.js';
import { hostState } from '../store/domain-state.js';
import { openParentSafely } from '../store/files.js';
import { openDomainDir, readDomainState } from '../store/store.js';
import { cliBundle, spawnDetached } from '../util/jobs.js';
import { layoutChain, type ChainOutcome } from './layout.js';
import { chainTargetsAfterFetch, type ChainTarget } from './targets.js';

export function describeChain(o: ChainOutcome): string {
  const what = [
    ...(o.removed.length ? [`removed ${o.removed.join(', ')} (sealed)`] : []),
    ...(o.written ? [`wrote ${o.written.bytes} bytes of earlier history as ${o.written.name}`] : []),
  ];
  return `${o.device}: reader chain (${o.mode}) of ${o.path}: ${what.join('; ') || o.skipped || 'nothing to do'}`;
}

/**
 * At prepare begin (store unlocked again): clears stale files; for a truncating start whose old
 * files are gone, starts the job that lays the history out once virtlogd opened the new log. A
 * failure costs the chain, never the start.
 */
export async function layoutChains(
  ctx: Pick<HookContext, 'config' | 'note' | 'report' | 'env'>,
  uuid: string,
  targets: readonly ChainTarget[],
  now: Date,
): Promise<void> {
  let job = false;
  for (const t of targets) {
    try {
      const o = await layoutChain(ctx.config, uuid, t, now);
      ctx.note(describeChain(o));
      // Only when the log itself is gone: whatever creates it next is the new start's virtlogd.
      if (t.afterStart && (o.removed.length || o.plan?.skip === 'no earlier files')) job = true;
    } catch (e) {
      ctx.report(`${t.device}: reader chain of ${t.path} not laid out: ${(e as Error).message}`);
    }
  }
  if (!job) return;
  const pid = await spawnDetached(process.execPath, [cliBundle(ctx.env), 'chain-layout', uuid], {
    env: ctx.env,
  });
  if (pid === undefined) ctx.report('reader chain: the layout job could not be started');
  else ctx.note('reader chain: layout job started (after virtlogd opens the new log)');
}

/** How long the job waits for virtlogd to open the new log (a start that fails never does). */
export const AFTER_START_WAIT_MS = 60_000;

/**
 * The job: waits until each log read in place exists again (virtlogd opens it truncating only
 * after deleting its backups), then lays the earlier history out behind it.
 */
export async function layoutAfterStart(
  config: Config,
  uuid: string,
  log: (line: string) => void,
  waitMs = AFTER_START_WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  const targets = currentTargets(config, uuid);
  if (!targets.length) {
    log('reader chain: the guest does not run here (or logs nowhere read in place): nothing to do');
    return;
  }
  for (const t of targets) {
    while (!exists(config, t.path)) {
      if (Date.now() >= deadline) {
        log(`${t.device}: ${t.path} was not opened again within ${waitMs} ms: no chain laid out`);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    log(describeChain(await layoutChain(config, uuid, t)));
  }
}

function exists(config: Config, path: string): boolean {
  const opened = openParentSafely(config, path);
  if (!('dir' in opened)) return false;
  try {
    return opened.dir.lstat(opened.name)?.isFile() ?? false;
  } finally {
    opened.dir.close();
  }
}

function currentTargets(config: Config, uuid: string): ChainTarget[] {
  const dir = openDomainDir(config, uuid);
  if (!dir) return [];
  try {
    return chainTargetsAfterFetch(config, hostState(readDomainState(dir, uuid), config.hostName));
  } finally {
    dir.close();
  }
}

/** After a history fetch brought earlier history: lays it out beside the logs read in place here. */
export async function layoutChainsAfterFetch(
  config: Config,
  uuid: string,
  log: (line: string) => void,
): Promise<void> {
  for (const t of currentTargets(config, uuid)) {
    try {
      log(describeChain(await layoutChain(config, uuid, t)));
    } catch (e) {
      log(`${t.device}: reader chain of ${t.path} not laid out: ${(e as Error).message}`);
    }
  }
}
