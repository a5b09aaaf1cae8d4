// The hook's shell: argv + stdin in, stdout + exit code out. Fail-open is the law (docs/DESIGN.md).
import { describeConfigError, loadConfig } from '../config/load.js';
import { classifyEvent, parseHookArgv, type EventKind } from './event.js';
import { parseDomain, type Handler, type HookContext } from './context.js';
import { recordHookRun } from '../journal/journal.js';

// Each event loads only its own handler: evaluating modules an event does not need is a good part of a
// hook's start-up (BENCHMARKS.md).
const HANDLERS: Record<Exclude<EventKind, 'ignored'>, (resident: boolean) => Promise<Handler>> = {
  filter: async (resident) => {
    // A resident process (the capture service) keeps its compiled code: the flag would cost it CPU.
    if (!resident) await withoutOptimisingCompiler();
    return (await import('./filter.js')).handleFilter;
  },
  prepare: async () => (await import('./prepare.js')).handlePrepare,
  release: async () => (await import('./stop.js')).handleRelease,
};

/**
 * The XML filter lives well under a second and walks its input a few times: V8's optimising compiler
 * only costs it CPU (BENCHMARKS.md: about a quarter of a 50 KiB migrate filter), while the byte loops of
 * prepare and release gain from it. Only where --no-opt is known to exist (V8 10/11 = Node 18/20):
 * V8 prints an unknown flag on stdout, which is the XML channel for migrate/restore.
 */
async function withoutOptimisingCompiler(): Promise<void> {
  if (!/^1[01]\./.test(process.versions.v8)) return;
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--no-opt');
}

/** The journal note of a run the capture service answered (status, tests and benches look for it). */
export const SERVICE_NOTE = 'answered by the capture service';

export interface HookIO {
  argv: readonly string[];
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Run inside the capture service (src/hook-server/), not in a Node started for this event. */
  resident?: boolean;
}

export async function runHook(io: HookIO): Promise<number> {
  const event = parseHookArgv(io.argv);
  const kind = classifyEvent(event);
  if (!event || kind === 'ignored') return 0;

  const started = Date.now();
  const problems: string[] = [];
  const notes: string[] = io.resident ? [SERVICE_NOTE] : [];
  const report = (message: string) => {
    problems.push(message);
    io.stderr.write(`virt-consolelog: ${event.domain} ${event.op} ${event.subop}: ${message}\n`);
  };
  let strict = false;
  let output: string | undefined;
  let failed = false;
  let ctx: HookContext | undefined;
  try {
    const input = await readAll(io.stdin, MAX_DOMAIN_XML_BYTES);
    const loaded = loadConfig(undefined, io.env);
    for (const e of loaded.errors) report(`config: ${describeConfigError(e)}`);
    // Handlers treat '' as XML they cannot understand: the filter leaves it unchanged, stores seal what they know.
    const xml = input.bytes > MAX_DOMAIN_XML_BYTES ? '' : input.text;
    if (!xml && input.bytes)
      report(`domain XML of ${input.bytes} bytes is over libvirt's own 4 MiB limit: not parsed`);
    strict = loaded.config.strict;
    const handler = await HANDLERS[kind](io.resident === true);
    // The one parse of the domain XML in a hook run (after the filter's compiler flags are set):
    // every handler reads this document; one that does not parse fails open where it is needed.
    ctx = {
      event,
      xml,
      domain: parseDomain(xml),
      config: loaded.config,
      report,
      fail: (m) => {
        report(m);
        if (strict) failed = true;
      },
      note: (m) => notes.push(m),
      env: io.env,
      now: () => new Date(),
    };
    const result = await handler(ctx);
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

/** libvirt's REMOTE_STRING_MAX: no domain XML passed through libvirt's API is larger. */
export const MAX_DOMAIN_XML_BYTES = 4 * 1024 * 1024;

/** Reads stdin to its end (libvirt must never block writing it), keeping at most `max` bytes. */
function readAll(stream: NodeJS.ReadableStream, max: number): Promise<{ text: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (c: Buffer | string) => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      bytes += b.length;
      if (bytes <= max) chunks.push(b);
      else chunks.length = 0;
    });
    stream.on('end', () =>
      resolve({ text: bytes > max ? '' : Buffer.concat(chunks).toString('utf8'), bytes }),
    );
    stream.on('error', reject);
  });
}
