// The automatic mode's job (`virt-consolelog auto-enable UUID`), run detached after a hook
// returned: waits for the domain's job to finish, enables the persistent definition, records the
// origin hint in the running guest's live metadata, retries with backoff, gives up after a bound.
import { kill } from 'node:process';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { getHostFacts } from '../host/facts.js';
import { normaliseUuid } from '../store/layout.js';
import {
  CONSOLELOG_NS,
  CONSOLELOG_PREFIX,
  readConsolelogMetadata,
  type ConsolelogMetadata,
} from '../xml/metadata.js';
import { escapeAttr } from '../xml/doc.js';
import { enableDomain, type DomainResult } from './operations.js';
import { definitionsStateDir, isOptedOut } from './optout.js';
import { dumpLive, isPersistent, jobType, setLiveMetadata, VirshError, type VirshOptions } from './virsh.js';

export interface AutoJobOptions {
  virsh: VirshOptions;
  /** Attempts at defining before giving up. */
  attempts: number;
  /** First retry delay; doubles each time up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** How long to wait for the domain's own job (start, migration) to end before each attempt. */
  jobWaitMs: number;
  sleep(ms: number): Promise<void>;
  note(line: string): void;
  now(): Date;
}

export const AUTO_DEFAULTS = {
  attempts: 6,
  firstDelayMs: 1000,
  maxDelayMs: 30_000,
  jobWaitMs: 60_000,
} as const;

export type AutoOutcome = 'enabled' | 'already-enabled' | 'opted-out' | 'transient' | 'gone' | 'gave-up';

export interface AutoResult {
  outcome: AutoOutcome;
  hint: 'set' | 'present' | 'not-running' | 'failed' | 'skipped';
}

export function pidFilePath(config: Config, uuid: string): string {
  const u = normaliseUuid(uuid);
  if (!u) throw new Error(`not a domain UUID: ${JSON.stringify(uuid)}`);
  return posix.join(definitionsStateDir(config), 'auto-enable', `${u}.pid`);
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 1) return false;
  try {
    kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when a job for this domain is pending (its pid file names a live process). */
export async function jobPending(config: Config, uuid: string): Promise<boolean> {
  try {
    return alive(Number((await readFile(pidFilePath(config, uuid), 'utf8')).trim()));
  } catch {
    return false;
  }
}

/** One pending job per domain: an O_EXCL pid file; a stale one (dead pid) is taken over. */
export async function takeJobLock(config: Config, uuid: string): Promise<(() => Promise<void>) | undefined> {
  const path = pidFilePath(config, uuid);
  await mkdir(posix.dirname(path), { recursive: true, mode: 0o755 });
  for (let i = 0; i < 2; i++) {
    try {
      const fh = await open(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o644,
      );
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (await jobPending(config, uuid)) return undefined;
      await rm(path, { force: true });
    }
  }
  return undefined;
}

async function waitForIdle(uuid: string, opts: AutoJobOptions): Promise<boolean> {
  const until = Date.now() + opts.jobWaitMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
    const job = await jobType(uuid, opts.virsh);
    if (job === 'None') return true;
    if (Date.now() + delay > until) return false;
    opts.note(`domain job "${job}" running; waiting`);
    await opts.sleep(delay);
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
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    try {
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
      await opts.sleep(delay);
      delay = Math.min(delay * 2, opts.maxDelayMs);
    }
  }
  if (outcome === 'gave-up') opts.note(`gave up after ${opts.attempts} attempt(s)`);
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
