// virt-consolelog chain-layout UUID: the reader-chain job the hook starts at `prepare begin` of a
// start that truncates a log read in place (not listed in --help; documented in the man page).
import { recordJobRun } from '../../journal/journal.js';
import { layoutAfterStart } from '../../chain/events.js';
import { normaliseUuid } from '../../store/layout.js';
import { EXIT, UsageError, type Command } from '../command.js';
import { expectPositionals } from '../options.js';

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
    const started = Date.now();
    const notes: string[] = [];
    const problems: string[] = [];
    try {
      await layoutAfterStart(config, uuid, (line) => {
        notes.push(line);
        ctx.io.stdout.write(`${uuid}: ${line}\n`);
      });
    } catch (e) {
      problems.push((e as Error).message);
    }
    await recordJobRun(
      config,
      uuid,
      ctx.io.env,
      { kind: 'chain-layout', ms: Date.now() - started, problems, notes, failed: problems.length > 0 },
      (e) => ctx.io.stderr.write(`virt-consolelog chain-layout: journal: ${e.message}\n`),
    );
    return problems.length ? EXIT.failure : EXIT.ok;
  },
};
