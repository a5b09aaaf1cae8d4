// The frame every detached job command shares (auto-enable, chain-layout, forget-undefined): its
// notes printed and kept, its problems collected, one journal record "<kind> job", exit 0 or 1.
import type { Config } from '../config/schema.js';
import { recordJobRun } from '../journal/journal.js';
import { EXIT, type CliIO } from './command.js';

export interface JobTools {
  /** A line of what the job did: printed (with the prefix) and journalled. */
  note: (line: string) => void;
  /** Something that makes the run a failure. */
  problem: (message: string) => void;
}

/** Runs `body`, journals what it noted and what went wrong (a throw is a problem), exits 0 or 1. */
export async function runJournalledJob(
  config: Config,
  io: CliIO,
  job: { kind: string; domain: string; prefix: string },
  body: (tools: JobTools) => Promise<void>,
): Promise<number> {
  const started = Date.now();
  const notes: string[] = [];
  const problems: string[] = [];
  try {
    await body({
      note: (line) => {
        notes.push(line);
        io.stdout.write(`${job.prefix}${line}\n`);
      },
      problem: (message) => void problems.push(message),
    });
  } catch (e) {
    problems.push((e as Error).message);
  }
  const failed = problems.length > 0;
  await recordJobRun(
    config,
    job.domain,
    io.env,
    { kind: job.kind, ms: Date.now() - started, problems, notes, failed },
    (e) => io.stderr.write(`virt-consolelog ${job.kind}: journal: ${e.message}\n`),
  );
  return failed ? EXIT.failure : EXIT.ok;
}
