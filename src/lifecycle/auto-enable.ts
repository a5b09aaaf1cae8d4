// The automatic mode's hook side: at `prepare begin`, schedule the persistent-definition upgrade as a
// detached job. The hook never calls libvirt itself (docs/LIBVIRT-FACTS.md: deadlock); the job waits until
// the guest runs and its own job ended, so it acts only after the start (or migration) is done.
import { jobPending } from '../definitions/job-lock.js';
import { isOptedOutSync } from '../definitions/optout.js';
import { decideAutoEnable } from '../definitions/state.js';
import { stateOptions } from '../definitions/tools.js';
import { cliBundle, spawnDetached } from '../util/jobs.js';
import { domainOf, type HookContext } from './context.js';

/** Starts `virt-consolelog auto-enable UUID` when the XML being started is not enabled on this host. */
export async function scheduleAutoEnable(ctx: HookContext, uuid: string, name: string): Promise<void> {
  const { config } = ctx;
  if (!config.autoEnable) return;
  const decision = decideAutoEnable(domainOf(ctx), config.hostName, stateOptions(config));
  if (!decision.schedule) {
    ctx.note(`auto-enable: not needed (${decision.reason})`);
    return;
  }
  if (isOptedOutSync(config, uuid)) {
    ctx.note('auto-enable: domain disabled on this host, left alone');
    return;
  }
  if (await jobPending(config, uuid)) {
    ctx.note('auto-enable: a job for this domain is already pending');
    return;
  }
  // The job inherits the hook's environment, and so reads the same configuration file.
  const pid = await spawnDetached(process.execPath, [cliBundle(ctx.env), 'auto-enable', uuid], {
    env: ctx.env,
  });
  if (pid === undefined) ctx.report('auto-enable: the job could not be started');
  else ctx.note(`auto-enable: job scheduled for ${name} (${decision.reason})`);
}
