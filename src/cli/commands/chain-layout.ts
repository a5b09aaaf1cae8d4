// virt-consolelog chain-layout UUID: the reader-chain job the hook starts at `prepare begin` of a
// start that truncates a log read in place (not listed in --help; documented in the man page).
import { layoutAfterStart } from '../../chain/events.js';
import { normaliseUuid } from '../../store/layout.js';
import { UsageError, type Command } from '../command.js';
import { expectPositionals } from '../options.js';
import { runJournalledJob } from '../job-run.js';

export const chainLayoutCommand: Command = {
  usage: `usage: virt-consolelog chain-layout UUID

Internal: the job the hook starts, detached, at 'prepare begin' of a start that truncates a log a
management layer reads in place (Nova's console.log, chain_logs = 1). virtlogd removes a log's
backups when it opens it truncating, so the earlier history is laid out only once virtlogd has
opened the new log (it waits for the file, at most a minute): one file behind virtlogd's own, as
after a migration's history fetch. Writes what it did to the plugin's journal.`,
  options: {},
  async run(args, ctx) {
    const [given] = expectPositionals(args, 1, 1, 'domain UUID');
    const uuid = normaliseUuid(given as string);
    if (!uuid) throw new UsageError(`not a domain UUID: ${given as string}`);
    const { config } = ctx.config();
    const job = { kind: 'chain-layout', domain: uuid, prefix: `${uuid}: ` };
    return runJournalledJob(config, ctx.io, job, ({ note }) => layoutAfterStart(config, uuid, note));
  },
};
