// started begin: with auto_enable on, schedule the persistent-definition upgrade as a detached job.
// The hook never calls libvirt itself (LIBVIRT-FACTS.md: deadlock); the job runs after it returned.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { jobPending } from '../definitions/auto.js';
import { isOptedOutSync } from '../definitions/optout.js';
import { decideAutoEnable } from '../definitions/state.js';
import { stateOptions } from '../definitions/tools.js';
import { readDomainIdentity } from '../xml/chardevs.js';
import type { HandlerResult, HookContext } from './context.js';

/** The CLI the job runs: $VIRT_CONSOLELOG_CLI, else virt-consolelog.mjs next to the hook bundle. */
export function jobCli(env: NodeJS.ProcessEnv, moduleUrl = import.meta.url): string | undefined {
  if (env.VIRT_CONSOLELOG_CLI) return env.VIRT_CONSOLELOG_CLI;
  const sibling = join(dirname(fileURLToPath(moduleUrl)), 'virt-consolelog.mjs');
  return existsSync(sibling) ? sibling : undefined;
}

export async function handleStarted(ctx: HookContext): Promise<HandlerResult> {
  const { config } = ctx;
  if (!config.autoEnable) return {};
  const { uuid, name } = readDomainIdentity(ctx.xml);
  const decision = decideAutoEnable(ctx.xml, config.hostName, stateOptions(config));
  if (!decision.schedule) {
    ctx.note(`auto-enable: not needed (${decision.reason})`);
    return {};
  }
  if (isOptedOutSync(config, uuid)) {
    ctx.note('auto-enable: domain disabled on this host, left alone');
    return {};
  }
  if (await jobPending(config, uuid)) {
    ctx.note('auto-enable: a job for this domain is already pending');
    return {};
  }
  const cli = jobCli(ctx.env);
  if (!cli) {
    ctx.report('auto-enable: cannot find virt-consolelog.mjs next to the hook (set VIRT_CONSOLELOG_CLI)');
    return {};
  }
  scheduleJob(process.execPath, [cli, 'auto-enable', uuid], ctx.env);
  ctx.note(`auto-enable: job scheduled for ${name} (${decision.reason})`);
  return {};
}

/**
 * Starts the job in its own session with fds 0/1/2 on /dev/null: libvirt reads the hook's stdout
 * and stderr until EOF, so a child holding them would block the guest's start until it exits.
 */
export function scheduleJob(file: string, args: string[], env: NodeJS.ProcessEnv): void {
  const child = execa(file, args, {
    detached: true,
    stdio: 'ignore',
    // execa kills children when the parent exits unless told not to.
    cleanup: false,
    reject: false,
    env,
    extendEnv: false,
  });
  child.unref();
  // Nothing awaits the job: swallow its result so no rejection is ever unhandled.
  child.catch(() => undefined);
}
