// enable / disable of one domain's persistent definition: read with virsh, plan (pure), validate,
// define. Never restarts a guest; its live XML is untouched.
import type { Config } from '../config/schema.js';
import { getHostFacts } from '../host/facts.js';
import { readDomainIdentity } from '../xml/chardevs.js';
import { planDisable, planEnable, PlanError } from './plan.js';
import { captureState, type CaptureState } from './state.js';
import { definitionTools, stateOptions } from './tools.js';
import {
  defineXml,
  dumpInactive,
  dumpLive,
  isActive,
  isPersistent,
  unifiedDiff,
  VirshError,
  type VirshOptions,
} from './virsh.js';

export type Outcome =
  | 'enabled'
  | 'already-enabled'
  | 'disabled'
  | 'not-enabled'
  | 'would-change'
  | 'unchanged'
  | 'not-found'
  | 'failed';

export interface DomainResult {
  domain: string;
  outcome: Outcome;
  /** One line for the operator. */
  message: string;
  /** --dry-run: the unified diff of the definition. */
  diff?: string;
  /** True when the definition was changed (or would be, with --dry-run). */
  changed: boolean;
  uuid?: string;
  /** The domain was busy (in a job): trying again later may work. */
  retryable?: boolean;
}

export interface RunOptions {
  dryRun?: boolean;
  /** Runs after validation, just before `virsh define`; throwing stops the define. */
  beforeDefine?: () => Promise<void>;
  virsh: VirshOptions;
  now?: () => Date;
}

const NEXT_START = 'takes effect at next start';

async function runningNote(domain: string, opts: VirshOptions): Promise<string> {
  const running = await isActive(domain, opts).catch(() => false);
  return running
    ? `; ${NEXT_START} (running now: not restarted, its live XML is untouched)`
    : `; ${NEXT_START}`;
}

function failure(domain: string, e: unknown): DomainResult {
  if (e instanceof VirshError && e.kind === 'not-found')
    return { domain, outcome: 'not-found', message: `${domain}: no such domain`, changed: false };
  const retryable = e instanceof VirshError && e.kind === 'busy';
  return {
    domain,
    outcome: 'failed',
    message: `${domain}: ${(e as Error).message}`,
    changed: false,
    retryable,
  };
}

/** Defining a transient domain's XML would make it persistent: never done behind its creator's back. */
function transient(domain: string, action: string): DomainResult {
  return {
    domain,
    outcome: 'failed',
    message:
      `${domain}: transient domain, no persistent definition to ${action} ` +
      '(the tool that creates it can pipe its XML through virt-consolelog rewrite)',
    changed: false,
  };
}

/** Runs `change` on a persistent domain's inactive XML; transient domains and virsh errors become results. */
async function changeDefinition(
  domain: string,
  action: 'enable' | 'disable',
  opts: RunOptions,
  change: (xml: string) => Promise<DomainResult>,
): Promise<DomainResult> {
  try {
    if (!(await isPersistent(domain, opts.virsh))) return transient(domain, action);
    const xml = await dumpInactive(domain, opts.virsh);
    return { ...(await change(xml)), uuid: readDomainIdentity(xml).uuid };
  } catch (e) {
    return failure(domain, e);
  }
}

/** Enables one domain's persistent definition (a name or UUID). */
export async function enableDomain(domain: string, config: Config, opts: RunOptions): Promise<DomainResult> {
  return changeDefinition(domain, 'enable', opts, async (xml) =>
    enableXml({ domain, xml, config, opts, facts: await getHostFacts(config, xml) }),
  );
}

/** One definition change's inputs: the domain as given, its persistent XML, and this host's facts. */
interface DefinitionChange {
  domain: string;
  xml: string;
  config: Config;
  opts: RunOptions;
  facts: Awaited<ReturnType<typeof getHostFacts>>;
}

async function enableXml({ domain, xml, config, opts, facts }: DefinitionChange): Promise<DomainResult> {
  const plan = planEnable(
    xml,
    definitionTools(config, facts),
    facts.host,
    (opts.now ?? (() => new Date()))(),
    config.rewriteParallel,
  );
  const nova =
    (plan.nova
      ? ' (Nova-managed: log path in the instance folder kept, truncation turned into append)'
      : '') + plan.warnings.map((w) => `\n  warning: ${w}`).join('');
  if (!plan.changed)
    return {
      domain,
      outcome: 'already-enabled',
      message: `${domain}: already enabled, nothing changed`,
      changed: false,
    };
  const devices = plan.devices.length ? plan.devices.join(', ') : 'no device';
  return defineOrPreview(domain, xml, plan.xml, opts, {
    outcome: 'enabled',
    would: `would enable ${devices}${nova}`,
    done: `enabled (${devices} logged in append mode)${nova}`,
  });
}

/** --dry-run: the diff of the planned definition; else defines it and says what changed. */
async function defineOrPreview(
  domain: string,
  xml: string,
  planned: string,
  opts: RunOptions,
  o: { outcome: 'enabled' | 'disabled'; would: string; done: string },
): Promise<DomainResult> {
  if (opts.dryRun) {
    const diff = await unifiedDiff(
      xml,
      planned,
      `${domain} (persistent definition)`,
      `${domain} (${o.outcome})`,
    );
    return { domain, outcome: 'would-change', message: `${domain}: ${o.would}`, diff, changed: true };
  }
  await defineXml(planned, opts.virsh, opts.beforeDefine);
  return {
    domain,
    outcome: o.outcome,
    message: `${domain}: ${o.done}${await runningNote(domain, opts.virsh)}`,
    changed: true,
  };
}

export async function disableDomain(domain: string, config: Config, opts: RunOptions): Promise<DomainResult> {
  return changeDefinition(domain, 'disable', opts, async (xml) =>
    disableXml({ domain, xml, config, opts, facts: await getHostFacts(config, xml) }),
  );
}

async function disableXml({ domain, xml, config, opts, facts }: DefinitionChange): Promise<DomainResult> {
  let plan;
  try {
    plan = planDisable(xml, definitionTools(config, facts));
  } catch (e) {
    if (e instanceof PlanError)
      return { domain, outcome: 'failed', message: `${domain}: ${e.message}`, changed: false };
    throw e;
  }
  if (!plan.changed)
    return {
      domain,
      outcome: 'not-enabled',
      message: `${domain}: ${plan.reason ?? 'nothing to restore'}`,
      changed: false,
    };
  return defineOrPreview(domain, xml, plan.xml, opts, {
    outcome: 'disabled',
    would: `would restore ${plan.restored} original chardev element(s)`,
    done: `disabled (${plan.restored} original chardev element(s) restored)`,
  });
}

/**
 * For `status`: how the domain's persistent definition and live XML capture the console, and why
 * not (see state.ts). Undefined when libvirt does not know the domain (only the store does).
 */
export async function definitionCapture(
  domain: string,
  config: Config,
  virshOpts: VirshOptions,
): Promise<CaptureState | undefined> {
  let persistent: string | undefined;
  let live: string | undefined;
  try {
    live = await dumpLive(domain, virshOpts);
    persistent = (await isPersistent(domain, virshOpts)) ? await dumpInactive(domain, virshOpts) : undefined;
  } catch (e) {
    if (e instanceof VirshError && e.kind === 'not-found') return undefined;
    throw e;
  }
  return captureState(persistent, live, stateOptions(config));
}
