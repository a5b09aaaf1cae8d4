// The automatic mode's job (`virt-consolelog auto-enable UUID`), started detached by `prepare begin`:
// waits until the guest runs and the domain's job finished, enables the persistent definition,
// records the origin hint in the running guest's live metadata, retries with backoff, gives up
// after a bound.
import type { Config } from '../config/schema.js';
import { getHostFacts } from '../host/facts.js';
import {
  CONSOLELOG_NS,
  CONSOLELOG_PREFIX,
  readConsolelogMetadata,
  type ConsolelogMetadata,
} from '../xml/metadata.js';
import { escapeAttr } from '../xml/doc.js';
import { enableDomain, type DomainResult } from './operations.js';
import { isOptedOut } from './optout.js';
import {
  dumpLive,
  isPersistent,
  jobType,
  setLiveMetadata,
  startState,
  VirshError,
  type VirshOptions,
} from './virsh.js';

export interface AutoJobOptions {
  virsh: VirshOptions;
  /** Attempts at defining before giving up. */
  attempts: number;
  /** First retry delay; doubles each time up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** How long to wait for the guest's start to end (minutes under a storm of starts). */
  startWaitMs: number;
  /** How long to wait for the domain's own job (migration...) to end before each attempt. */
  jobWaitMs: number;
  /**
   * Jobs pending on this host (this one included). Every wait is about that many times shareMs (half
   * to one and a half times), so a storm's hundreds of jobs ask libvirt about 1000 / shareMs times a
   * second between them.
   */
  pendingJobs?: () => Promise<number>;
  shareMs?: number;
  /** In [0, 1): spreads the shared waits (Math.random; a test fixes it). */
  random?: () => number;
  sleep(ms: number): Promise<void>;
  note(line: string): void;
  now(): Date;
}

// Patient: a host starting hundreds of guests at once keeps libvirt busy for a quarter of an hour
// (BENCHMARKS.md, scale), and a job that gives up leaves the definition as it was until the next start.
export const AUTO_DEFAULTS = {
  attempts: 10,
  firstDelayMs: 1000,
  maxDelayMs: 60_000,
  startWaitMs: 1_200_000,
  jobWaitMs: 120_000,
  shareMs: 500,
} as const;

export type AutoOutcome = 'enabled' | 'already-enabled' | 'opted-out' | 'transient' | 'gone' | 'gave-up';

export interface AutoResult {
  outcome: AutoOutcome;
  hint: 'set' | 'present' | 'not-running' | 'failed' | 'skipped';
}

/**
 * Sleeps `ms`, or longer while many jobs share libvirt (each job's fair share of its calls). The share
 * is spread over half to one and a half times itself: jobs a storm started together would otherwise
 * all ask again at the same moment.
 */
async function pause(ms: number, opts: AutoJobOptions): Promise<void> {
  const jobs = opts.pendingJobs ? await opts.pendingJobs() : 1;
  const share = jobs * (opts.shareMs ?? 0) * (0.5 + (opts.random ?? Math.random)());
  await opts.sleep(Math.round(Math.max(ms, share)));
}

/**
 * The job is started at `prepare begin`, before QEMU runs: it defines nothing while libvirt is still
 * starting the guest (a define then waits for the start's job and fails). A guest that does not come
 * up (its start failed) still gets its definition enabled, for the next start.
 */
async function waitForStart(uuid: string, opts: AutoJobOptions): Promise<void> {
  const until = Date.now() + opts.startWaitMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    // Started at prepare begin: the guest cannot run yet, so the first question waits too.
    await pause(delay, opts);
    const state = await startState(uuid, opts.virsh);
    if (state === 'up') return;
    if (Date.now() + delay > until) {
      const what = state === 'starting' ? 'still starting' : 'not running';
      opts.note(`domain ${what} after ${opts.startWaitMs} ms: its definition is enabled anyway`);
      return;
    }
  }
}

async function waitForIdle(uuid: string, opts: AutoJobOptions): Promise<boolean> {
  const until = Date.now() + opts.jobWaitMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
    const job = await jobType(uuid, opts.virsh);
    if (job === 'None') return true;
    if (Date.now() + delay > until) return false;
    opts.note(`domain job "${job}" running; waiting`);
    await pause(delay, opts);
  }
}

/**
 * Our element for `virsh metadata --set`: unprefixed, libvirt puts it (and its children) into the
 * namespace given with --uri/--key itself, and refuses an element that declares it already.
 * The whole element is replaced, so every field is written again.
 */
export function hintElement(meta: ConsolelogMetadata): string {
  const q = (v: string) => `"${escapeAttr(v, '"')}"`;
  let inner = `<host name=${q(meta.host ?? '')} generation=${q(String(meta.generation ?? 0))}/>`;
  if (meta.degraded !== undefined) inner += `<degraded reason=${q(meta.degraded)}/>`;
  if (meta.original !== undefined) inner += `<original>${meta.original}</original>`;
  return `<consolelog>${inner}</consolelog>`;
}

/** Records this host in the running guest's live metadata when it is not there yet. */
async function recordHint(uuid: string, host: string, opts: AutoJobOptions): Promise<AutoResult['hint']> {
  const live = await dumpLive(uuid, opts.virsh);
  if (live === undefined) return 'not-running';
  const meta = readConsolelogMetadata(live);
  if (meta.host === host) return 'present';
  const next: ConsolelogMetadata = { ...meta, host, generation: meta.generation ?? 0 };
  await setLiveMetadata(uuid, CONSOLELOG_NS, CONSOLELOG_PREFIX, hintElement(next), opts.virsh);
  return 'set';
}

function retryable(r: DomainResult): boolean {
  return r.outcome === 'failed' && r.retryable === true;
}

export async function runAutoEnable(uuid: string, config: Config, opts: AutoJobOptions): Promise<AutoResult> {
  if (await isOptedOut(config, uuid)) {
    opts.note('disabled on this host (virt-consolelog disable): left alone');
    return { outcome: 'opted-out', hint: 'skipped' };
  }
  let delay = opts.firstDelayMs;
  let outcome: AutoOutcome = 'gave-up';
  let started = false;
  let attempts = 0;
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    attempts = attempt;
    try {
      if (!started) await waitForStart(uuid, opts);
      started = true;
      if (!(await waitForIdle(uuid, opts))) {
        opts.note(`attempt ${attempt}: domain job still running after ${opts.jobWaitMs} ms`);
      } else if (!(await isPersistent(uuid, opts.virsh))) {
        opts.note('transient domain: no persistent definition to enable');
        outcome = 'transient';
        break;
      } else {
        const r = await enableDomain(uuid, config, {
          virsh: opts.virsh,
          now: opts.now,
          // A migration that began meanwhile could end with --undefinesource before our define
          // lands, and the define would then re-create the domain here: define only while idle.
          beforeDefine: async () => {
            const job = await jobType(uuid, opts.virsh);
            if (job !== 'None')
              throw new VirshError(`domain job "${job}" began; not defining now`, 'busy', []);
          },
        });
        opts.note(`attempt ${attempt}: ${r.message}`);
        if (r.outcome === 'enabled' || r.outcome === 'already-enabled') {
          outcome = r.outcome;
          break;
        }
        if (r.outcome === 'not-found') {
          outcome = 'gone';
          break;
        }
        if (!retryable(r)) break;
      }
    } catch (e) {
      if (e instanceof VirshError && e.kind === 'not-found') {
        opts.note('domain gone');
        outcome = 'gone';
        break;
      }
      opts.note(`attempt ${attempt}: ${(e as Error).message}`);
      if (!(e instanceof VirshError && e.kind === 'busy')) break;
    }
    if (attempt < opts.attempts) {
      await pause(delay, opts);
      delay = Math.min(delay * 2, opts.maxDelayMs);
    }
  }
  if (outcome === 'gave-up') opts.note(`gave up after ${attempts} attempt(s)`);
  let hint: AutoResult['hint'] = 'skipped';
  if (outcome !== 'gone') {
    try {
      const facts = await getHostFacts(config);
      hint = await recordHint(uuid, facts.host, opts);
      if (hint === 'set') opts.note(`origin hint host=${facts.host} recorded in the live metadata`);
    } catch (e) {
      hint = 'failed';
      opts.note(`origin hint: ${(e as Error).message}`);
    }
  }
  return { outcome, hint };
}
