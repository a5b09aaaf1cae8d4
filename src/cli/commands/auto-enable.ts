// virt-consolelog auto-enable UUID: the automatic mode's detached job (started by the hook, not
// listed in --help; documented in the man page). Writes what it did to the plugin's journal.
import { AUTO_DEFAULTS, runAutoEnable } from '../../definitions/auto.js';
import { pendingJobCount, takeJobLock } from '../../definitions/job-lock.js';
import { uriFrom } from '../../definitions/virsh.js';
import { normaliseUuid } from '../../store/layout.js';
import { EXIT, UsageError, type Command } from '../command.js';
import { stringOpt } from '../options.js';
import { runJournalledJob } from '../job-run.js';

export const autoEnableCommand: Command = {
  usage: `usage: virt-consolelog auto-enable [--connect URI] UUID

Internal: the job the hook starts, detached, at 'prepare begin' when auto_enable = 1 and
the guest's persistent definition is not enabled yet. Waits until the guest runs and the domain's
own job (migration...) ended, runs 'enable' for it (retrying with backoff while the domain is busy, at
most ${AUTO_DEFAULTS.attempts} attempts), records this host in the running guest's live metadata as the
origin hint for a later migration, and writes what it did to the plugin's journal. One job per
domain at a time (pid file in state_dir/domains/<uuid>/auto-enable.pid). A domain disabled with
'virt-consolelog disable' is left alone.`,
  options: { connect: { type: 'string' } },
  async run(args, ctx) {
    const connect = stringOpt(args, 'connect');
    const rest = args.positionals;
    const uuid = rest.length === 1 ? normaliseUuid(rest[0] as string) : undefined;
    if (!uuid) throw new UsageError('expected exactly one domain UUID');
    const { config } = ctx.config();
    const release = await takeJobLock(config, uuid);
    if (!release) {
      ctx.io.stdout.write(`${uuid}: a job for this domain is already pending\n`);
      return EXIT.ok;
    }
    const job = { kind: 'auto-enable', domain: uuid, prefix: `${uuid}: ` };
    return runJournalledJob(config, ctx.io, job, async ({ note, problem }) => {
      try {
        const result = await runAutoEnable(uuid, config, {
          ...AUTO_DEFAULTS,
          virsh: { uri: uriFrom(connect, ctx.io.env), env: ctx.io.env },
          pendingJobs: () => pendingJobCount(config),
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          note,
          now: () => new Date(),
        });
        if (result.outcome === 'gave-up') problem('automatic enable gave up');
      } finally {
        await release();
      }
    });
  },
};
