// The hook's shell: argv + stdin in, stdout + exit code out. Fail-open is the law (DESIGN.md).
import { loadConfig } from '../config/load.js';
import { classifyEvent, parseHookArgv, type EventKind } from './event.js';
import type { Handler, HookContext } from './context.js';
import { handleFilter } from './filter.js';
import { handlePrepare } from './prepare.js';
import { handleStarted } from './started.js';
import { handleStopped, handleRelease } from './stop.js';
import { recordHookRun } from '../journal/journal.js';

const HANDLERS: Record<Exclude<EventKind, 'ignored'>, Handler> = {
  filter: handleFilter,
  prepare: handlePrepare,
  started: handleStarted,
  stopped: handleStopped,
  release: handleRelease,
};

export interface HookIO {
  argv: readonly string[];
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export async function runHook(io: HookIO): Promise<number> {
  const event = parseHookArgv(io.argv);
  const kind = classifyEvent(event);
  if (!event || kind === 'ignored') return 0;

  const started = Date.now();
  const problems: string[] = [];
  const notes: string[] = [];
  const report = (message: string) => {
    problems.push(message);
    io.stderr.write(`virt-consolelog: ${event.domain} ${event.op} ${event.subop}: ${message}\n`);
  };
  let strict = false;
  let output: string | undefined;
  let failed = false;
  let ctx: HookContext | undefined;
  try {
    const xml = await readAll(io.stdin);
    const loaded = loadConfig(undefined, io.env);
    for (const e of loaded.errors) report(`config: ${e.message} (default used)`);
    strict = loaded.config.strict;
    ctx = {
      event,
      xml,
      config: loaded.config,
      report,
      note: (m) => notes.push(m),
      env: io.env,
      now: () => new Date(),
    };
    const result = await HANDLERS[kind](ctx);
    output = result.xml;
  } catch (e) {
    failed = true;
    report(`failed open: ${(e as Error).stack ?? String(e)}`);
  }
  if (ctx) {
    await recordHookRun(ctx, { kind, ms: Date.now() - started, problems, notes, failed }).catch((e: Error) =>
      io.stderr.write(`virt-consolelog: journal: ${e.message}\n`),
    );
  }
  // Output only after full success: a half-written XML would fail the migration.
  if (!failed && kind === 'filter' && output !== undefined) {
    await new Promise<void>((resolve, reject) =>
      io.stdout.write(output, (err) => (err ? reject(err) : resolve())),
    ).catch(() => undefined);
  }
  return failed && strict ? 1 : 0;
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}
