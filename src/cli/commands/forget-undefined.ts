// virt-consolelog forget-undefined: the undefined_retention_days job the hook starts at release end
// (at most hourly, without the capture service); not listed in --help, documented in the man page.
import { applyUndefinedRetention } from '../../capture/undefined-retention.js';
import { listedDomains, uriFrom } from '../../definitions/virsh.js';
import { type Command } from '../command.js';
import { expectPositionals, stringOpt } from '../options.js';
import { runJournalledJob } from '../job-run.js';

/** The journal's domain field for this host-wide job (it is about no one domain). */
export const FORGET_JOB_DOMAIN = '*';

export const forgetUndefinedCommand: Command = {
  usage: `usage: virt-consolelog forget-undefined [--connect URI]

Internal: the job the hook starts, detached, at 'release end' (at most once an hour, and only when
no capture service runs, which does the same every hour) when some domain's history ended more
than undefined_retention_days ago. Asks libvirt which domains it lists (virsh list --all --uuid)
and deletes the store folder of each domain it does not list, whose last event was on this host
and that has no unsealed live bytes, each decided again under the domain's lock. If libvirt cannot
be asked, nothing is deleted. Writes what it did to the plugin's journal (domain "*").`,
  options: { connect: { type: 'string' } },
  async run(args, ctx) {
    expectPositionals(args, 0, 0, 'nothing');
    const { config } = ctx.config();
    const job = { kind: 'forget-undefined', domain: FORGET_JOB_DOMAIN, prefix: '' };
    return runJournalledJob(config, ctx.io, job, async ({ note, problem }) => {
      const defined = await listedDomains({
        uri: uriFrom(stringOpt(args, 'connect'), ctx.io.env),
        env: ctx.io.env,
      });
      const r = await applyUndefinedRetention(config, new Date(), defined, note);
      for (const f of r.failed) problem(`${f.uuid}: ${f.message}`);
      if (!r.skipped && !r.forgotten.length && !r.failed.length)
        note('undefined_retention_days: nothing to forget');
    });
  },
};
