// The plugin's own event journal: one JSON line per hook run in <state_dir>/journal.log, rotated
// by rotating-file-stream (journal.log.1 .. .3 kept; all together about config.journalMaxBytes).
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import type { HookContext } from '../lifecycle/context.js';
import { normaliseUuid } from '../store/layout.js';

export const JOURNAL_FILE = 'journal.log';
const KEPT = 3;

export interface HookRunRecord {
  kind: string;
  ms: number;
  problems: string[];
  notes: string[];
  failed: boolean;
}

/** One journal line. */
export interface JournalEntry extends HookRunRecord {
  at: string;
  host: string;
  domain: string;
  uuid?: string;
  op: string;
  subop: string;
  extra: string;
  pid: number;
}

function journalFileName(_time: number | Date, index?: number): string {
  return index ? `${JOURNAL_FILE}.${index}` : JOURNAL_FILE;
}

/** Appends one entry to the journal (creating state_dir if needed). */
export async function appendJournal(config: Config, entry: JournalEntry): Promise<void> {
  fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o750 });
  const perFile = Math.max(4096, Math.floor(config.journalMaxBytes / (KEPT + 1)));
  const line = JSON.stringify(entry) + '\n';
  // Far from the rotation size a line is one O_APPEND write (atomic among concurrent hooks), the same
  // write rotating-file-stream would make: loading that library costs a hook run ~5 ms (BENCHMARKS.md).
  const path = posix.join(config.stateDir, JOURNAL_FILE);
  let size = 0;
  try {
    size = fs.statSync(path).size;
  } catch {
    // No journal yet: this line starts it.
  }
  if (size + Buffer.byteLength(line) < perFile) {
    fs.appendFileSync(path, line, { mode: 0o640 });
    return;
  }
  const { createStream } = await import('rotating-file-stream');
  const stream = createStream(journalFileName, {
    path: config.stateDir,
    size: `${perFile}B`,
    rotate: KEPT,
    mode: 0o640,
  });
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.end(line, () => resolve());
  });
  await new Promise<void>((resolve) => (stream.closed ? resolve() : stream.once('close', () => resolve())));
}

export async function recordHookRun(ctx: HookContext, record: HookRunRecord): Promise<void> {
  const m = /<uuid>\s*([0-9A-Fa-f-]{32,36})\s*<\/uuid>/.exec(ctx.xml);
  const uuid = m ? normaliseUuid(m[1] as string) : undefined;
  await appendJournal(ctx.config, {
    at: ctx.now().toISOString(),
    host: ctx.config.hostName,
    domain: ctx.event.domain,
    ...(uuid ? { uuid } : {}),
    op: ctx.event.op,
    subop: ctx.event.subop,
    extra: ctx.event.extra,
    pid: process.pid,
    ...record,
  });
}

/** Journal entries, newest first, optionally only those of one domain (by UUID or name). */
export function readJournal(config: Config, match?: { uuid?: string; names?: string[] }): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (let i = 0; i <= KEPT; i++) {
    let text: string;
    try {
      text = fs.readFileSync(posix.join(config.stateDir, journalFileName(0, i)), 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n').filter(Boolean).reverse();
    for (const line of lines) {
      let e: JournalEntry;
      try {
        e = JSON.parse(line) as JournalEntry;
      } catch {
        continue;
      }
      if (match && !(match.uuid && e.uuid === match.uuid) && !match.names?.includes(e.domain)) continue;
      out.push(e);
    }
  }
  return out;
}

/** What a detached job (auto-enable, chain-layout) did, journalled as event "<kind> job". */
export async function recordJobRun(
  config: Config,
  uuid: string,
  env: NodeJS.ProcessEnv,
  record: HookRunRecord,
  onError: (e: Error) => void,
): Promise<void> {
  // The journal's contract takes a hook context: a job has no domain XML.
  const jctx: HookContext = {
    event: { domain: uuid, op: record.kind, subop: 'job', extra: '-' },
    xml: '',
    domain: { error: 'a job, not a hook run: no domain XML' },
    config,
    report: () => undefined,
    fail: () => undefined,
    note: () => undefined,
    env,
    now: () => new Date(),
  };
  await recordHookRun(jctx, record).catch(onError);
}
