// virt-consolelog show's options, output plan and printers (a byte stream, or line by line with
// times): used by `show DOMAIN` (commands/show.ts) and `show --all` (show-all.ts).
import { UsageError } from './command.js';
import { readHistory, type HistoryEvent, type ReadOptions } from '../history/reader.js';
import {
  flagOpt,
  isBootSelector,
  parseCommandLine,
  stringOpt,
  type OptionTable,
  type ParsedArgs,
} from './options.js';
import {
  LineAssembler,
  OUTPUT_MODES,
  formatBoot,
  formatLine,
  grepItems,
  grepMatcher,
  lastLines,
  reverseItems,
  type FormatOptions,
  type LineSource,
  type OutputMode,
  type ShowItem,
} from './show-output.js';
import { useColour } from '../terminal/colour.js';
import { TerminalSanitizer, sanitizeForTerminal } from '../terminal/sanitize.js';

export const SHOW_OPTIONS: OptionTable = {
  lines: { type: 'string', short: 'n' },
  bytes: { type: 'string', short: 'c' },
  boot: { type: 'string', short: 'b', optionalValue: isBootSelector },
  'list-boots': { type: 'boolean' },
  follow: { type: 'boolean', short: 'f' },
  since: { type: 'string', short: 'S' },
  until: { type: 'string', short: 'U' },
  device: { type: 'string' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  reverse: { type: 'boolean', short: 'r' },
  grep: { type: 'string', short: 'g' },
  all: { type: 'boolean' },
  raw: { type: 'boolean', short: 'a' },
  'no-pager': { type: 'boolean' },
  'no-hostname': { type: 'boolean' },
};

export interface ShowArgs extends ReadOptions {
  /** Absent with --all. */
  domain: string | undefined;
  all: boolean;
  listBoots: boolean;
  output: OutputMode;
  reverse: boolean;
  grep: string | undefined;
  raw: boolean;
  noPager: boolean;
  hostname: boolean;
}

/** Lines -f prints before following when -n is not given, as journalctl -f and tail -f. */
export const FOLLOW_LINES = 10;

function count(flag: string, v: string | undefined): number {
  if (v === undefined || !/^\d+$/.test(v))
    throw new UsageError(`${flag} needs a non-negative number, got ${JSON.stringify(v ?? '')}`);
  return Number(v);
}

/** Parses --since/--until: ISO 8601, or a relative "-<N><s|m|h|d>" from now. */
export function parseTime(flag: string, v: string | undefined, now = new Date()): Date {
  if (!v) throw new UsageError(`${flag} needs a time`);
  const rel = /^-(\d+)([smhd])$/.exec(v);
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(rel[1]) * unit);
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`${flag}: not a time: ${JSON.stringify(v)}`);
  return new Date(t);
}

export function parseShowArgs(argv: readonly string[] | ParsedArgs, now = new Date()): ShowArgs {
  const a = Array.isArray(argv)
    ? parseCommandLine(argv as readonly string[], SHOW_OPTIONS)
    : (argv as ParsedArgs);
  const all = flagOpt(a, 'all');
  const out: ShowArgs = {
    domain: undefined,
    all,
    listBoots: flagOpt(a, 'list-boots'),
    output: 'short',
    reverse: flagOpt(a, 'reverse'),
    grep: stringOpt(a, 'grep'),
    raw: flagOpt(a, 'raw'),
    noPager: flagOpt(a, 'no-pager'),
    hostname: !flagOpt(a, 'no-hostname'),
  };
  const lines = stringOpt(a, 'lines');
  if (lines !== undefined) out.lines = count('--lines', lines);
  const bytes = stringOpt(a, 'bytes');
  if (bytes !== undefined) out.bytes = count('--bytes', bytes);
  const boot = stringOpt(a, 'boot');
  if (boot !== undefined) {
    if (boot !== '' && !isBootSelector(boot))
      throw new UsageError(`--boot: not a boot number or id: ${JSON.stringify(boot)}`);
    out.boot = boot;
  }
  if (flagOpt(a, 'follow')) out.follow = true;
  const since = stringOpt(a, 'since');
  if (since !== undefined) out.since = parseTime('--since', since, now);
  const until = stringOpt(a, 'until');
  if (until !== undefined) out.until = parseTime('--until', until, now);
  const d = stringOpt(a, 'device');
  if (d !== undefined) {
    if (!/^(serial|console|parallel)\d+$/.test(d))
      throw new UsageError(`--device: expected serialN, consoleN or parallelN, got ${JSON.stringify(d)}`);
    out.device = d;
  }
  const mode = stringOpt(a, 'output');
  if (mode !== undefined) {
    if (!(OUTPUT_MODES as readonly string[]).includes(mode))
      throw new UsageError(`--output: one of ${OUTPUT_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
    out.output = mode as OutputMode;
  }
  if (flagOpt(a, 'json')) {
    if (mode !== undefined && mode !== 'json')
      throw new UsageError(`--json and -o ${mode} exclude each other`);
    out.output = 'json';
  }
  if (out.grep !== undefined) grepCheck(out.grep);
  const p = a.positionals;
  if (all) {
    if (p.length) throw new UsageError(`--all reads every domain: no DOMAIN (got ${p.join(' ')})`);
    if (out.listBoots) throw new UsageError('--list-boots needs one DOMAIN');
    if (out.bytes !== undefined) throw new UsageError('-c reads one domain: not with --all');
  } else if (p.length !== 1)
    throw new UsageError(p.length ? `one DOMAIN only, got ${p.join(' ')}` : 'DOMAIN missing');
  else out.domain = p[0];
  if (out.bytes !== undefined && out.lines !== undefined)
    throw new UsageError('-n and -c exclude each other');
  if (out.bytes !== undefined && (out.output !== 'short' || out.grep !== undefined || out.reverse))
    throw new UsageError('-c prints raw bytes: not with -o, --json, -g or -r');
  if (out.reverse && out.follow) throw new UsageError('-r and -f exclude each other');
  if (out.follow && out.lines === undefined && out.bytes === undefined) out.lines = FOLLOW_LINES;
  return out;
}

function grepCheck(pattern: string): void {
  try {
    grepMatcher(pattern);
  } catch (e) {
    throw new UsageError(`--grep: ${(e as Error).message}`);
  }
}

/** Writes and waits until the stream is done with `data` (the reader reuses its buffers); a closed
 * pipe rejects (EPIPE), which ends the command quietly. */
export function writeTo(out: NodeJS.WritableStream, data: string | Buffer): Promise<void> {
  return new Promise(
    (resolve, reject) => void out.write(data, (err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

/** Where show's output goes and how: the pager or stdout, sanitised on a terminal. */
export interface ShowSink {
  write(data: Buffer | string): Promise<void>;
  /** Guest bytes (sanitised on a terminal unless --raw). */
  guest(data: Buffer): Promise<void>;
  /** End of a stream of guest bytes: what the sanitiser held back. */
  endGuest(): Promise<void>;
  format: FormatOptions;
}

function makeSink(out: NodeJS.WritableStream, sanitize: boolean, format: FormatOptions): ShowSink {
  const s = new TerminalSanitizer();
  const write = (d: Buffer | string) => writeTo(out, d);
  return {
    write,
    format,
    guest: (d) => write(sanitize ? s.feed(d) : d),
    endGuest: async () => {
      if (sanitize) {
        const rest = s.flush();
        if (rest.length) await write(rest);
      }
    },
  };
}

/** Streams one domain's events as they come: short (with separators) and cat. */
async function printStream(
  sink: ShowSink,
  events: AsyncIterable<HistoryEvent>,
  source: LineSource,
): Promise<void> {
  let atLineStart = true;
  for await (const e of events) {
    if (e.type === 'boot') {
      const sep = formatBoot(e.boot, source, sink.format);
      if (!sep) continue;
      await sink.endGuest();
      await sink.write((atLineStart ? '' : '\n') + sep.toString());
      atLineStart = true;
      continue;
    }
    if (!e.data.length) continue;
    await sink.guest(e.data);
    atLineStart = e.data[e.data.length - 1] === 10;
  }
  await sink.endGuest();
}

async function writeItem(sink: ShowSink, sanitize: boolean, it: ShowItem): Promise<void> {
  if (it.kind === 'boot') {
    const b = formatBoot(it.boot, it.source, sink.format);
    if (b) await sink.write(b);
    return;
  }
  const line = formatLine(it.line, sink.format);
  await sink.write(
    sanitize && sink.format.mode !== 'json' ? sanitizeForTerminal(line, undefined, true).out : line,
  );
}

export interface LinePlan {
  grep?: string;
  reverse: boolean;
  /** -n with -g: the last N matching lines of the history. */
  lastMatching?: number;
}

/**
 * Prints events line by line (-o short-iso/json, -g, -r, --all). The history part is gathered
 * when -r or -n with -g need it whole; what follows (-f) is printed as it comes.
 */
export async function printLines(
  sink: ShowSink,
  sanitize: boolean,
  read: (onLive: () => void) => AsyncIterable<HistoryEvent>,
  lines: LineAssembler,
  plan: LinePlan,
): Promise<void> {
  const grep = plan.grep !== undefined ? grepItems(grepMatcher(plan.grep)) : (i: ShowItem) => [i];
  const gather = plan.reverse || plan.lastMatching !== undefined;
  let held: ShowItem[] | undefined = gather ? [] : undefined;
  const release = async () => {
    if (!held) return;
    let items = held;
    held = undefined;
    if (plan.lastMatching !== undefined) items = lastLines(items, plan.lastMatching);
    if (plan.reverse) items = reverseItems(items);
    for (const it of items) await writeItem(sink, sanitize, it);
  };
  const emit = async (items: ShowItem[]) => {
    for (const it of items)
      for (const kept of grep(it)) {
        if (held) held.push(kept);
        else await writeItem(sink, sanitize, kept);
      }
  };
  let released: Promise<unknown> | undefined;
  let failure: { e: unknown } | undefined;
  const events = read(() => {
    lines.live(Date.now());
    // The history part is complete: print what was gathered now, not at the guest's next line.
    released = release().catch((e: unknown) => (failure = { e }));
  });
  for await (const e of events) {
    if (released) await released;
    if (failure) throw failure.e;
    await emit(lines.feed(e));
  }
  if (released) await released;
  if (failure) throw failure.e;
  await emit(lines.flush());
  await release();
}

/** How one run of show prints: the pager or stdout, colour, sanitising. */
export interface ShowPlan {
  sink: ShowSink;
  sanitize: boolean;
  linewise: boolean;
  /** Lines carry their own times (-o short-iso/short-iso-precise/json, --since/--until). */
  timed: boolean;
  plan: LinePlan;
}

export function planOutput(
  o: ShowArgs,
  out: NodeJS.WritableStream,
  env: NodeJS.ProcessEnv,
  isTTY: boolean,
): ShowPlan {
  const sanitize = isTTY && !o.raw && o.bytes === undefined;
  const stamped = o.output === 'short-iso' || o.output === 'short-iso-precise' || o.output === 'json';
  const format: FormatOptions = {
    mode: o.output,
    withName: o.all,
    hostname: o.hostname,
    colour: useColour(env, isTTY) && o.output !== 'json',
  };
  return {
    sink: makeSink(out, sanitize, format),
    sanitize,
    linewise: o.bytes === undefined && (stamped || o.grep !== undefined || o.reverse || o.all),
    timed: o.bytes === undefined && (stamped || o.since !== undefined || o.until !== undefined),
    plan: {
      reverse: o.reverse,
      ...(o.grep !== undefined ? { grep: o.grep } : {}),
      ...(o.grep !== undefined && o.lines !== undefined ? { lastMatching: o.lines } : {}),
    },
  };
}

/** Reader options for one domain: with -g, -n counts matching lines, so the reader reads all. */
export function readOptionsOf(o: ShowArgs, signal: AbortSignal): ReadOptions {
  const { lines, ...rest } = o;
  return { ...rest, ...(lines !== undefined && o.grep === undefined ? { lines } : {}), signal };
}

/** Prints one domain (or one device of it, --all) through the plan. */
export async function printDomain(
  config: Parameters<typeof readHistory>[0],
  domain: string,
  source: LineSource,
  o: ReadOptions,
  p: ShowPlan,
): Promise<void> {
  // Timed: each line with its own time, and --since/--until select lines (issue 17).
  // Loaded only when asked for: a plain `show` pays no start-up for the time index.
  const read = p.timed ? (await import('../capture/line-times.js')).readTimedHistory : readHistory;
  if (!p.linewise) return printStream(p.sink, read(config, domain, o), source);
  return printLines(
    p.sink,
    p.sanitize,
    (onLive) => read(config, domain, { ...o, onLive }),
    new LineAssembler(source),
    p.plan,
  );
}
