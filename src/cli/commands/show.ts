// virt-consolelog show: everything a guest printed, oldest first, journalctl-like.
// Long: the option checks, the output plan and the two printers (stream, line by line) share ShowArgs.
import type { Writable } from 'node:stream';
import { EXIT, UsageError, type Command } from '../command.js';
import {
  HistoryError,
  openHistory,
  readHistory,
  type HistoryEvent,
  type ReadOptions,
} from '../../history/reader.js';
import {
  flagOpt,
  isBootSelector,
  parseCommandLine,
  stringOpt,
  type OptionTable,
  type ParsedArgs,
} from '../options.js';
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
} from '../show-output.js';
import { useColour } from '../../terminal/colour.js';
import { choosePager, startPager } from '../../terminal/pager.js';
import { TerminalSanitizer, sanitizeForTerminal } from '../../terminal/sanitize.js';
import { assertStoreReadable } from '../store-access.js';
import { followAllDomains } from '../show-all.js';
import { readTimedHistory } from '../../capture/line-times.js';

export { bootSeparator } from '../show-output.js';

const USAGE = `usage: virt-consolelog show [OPTIONS] DOMAIN
       virt-consolelog show --all [OPTIONS]

Prints everything DOMAIN (a name or a UUID; undefined domains too) printed on a serial or console,
oldest first: archived segments, virtlogd backups and live files, across restarts and hosts, with
a separator at each boot:  -- Boot <id> on <host> at <time> --
Options go before or after DOMAIN; --opt=value and --opt value are the same.

Options:
  -n, --lines N        only the last N lines
  -c, --bytes N        exactly the last N bytes of guest output, oldest first, without separators
                       (the OpenStack console-log contract: byte for byte, also on a terminal)
  -b, --boot [SEL]     one boot: 0 or nothing = newest, -1 the one before, ...; 1 = oldest; or a boot id
      --list-boots     list the boots (index, id, host, first and last time, bytes)
  -f, --follow         print the last 10 lines (or -n N), then keep printing new output (through
                       virtlogd rotation and restarts); Ctrl-C ends
  -S, --since TIME     only lines from TIME on (ISO 8601, or "-2h", "-30m", "-1d"); with -c, boots
                       still running at or after TIME
  -U, --until TIME     only lines up to TIME; with -c, boots started at or before TIME
      --device DEV     serial0 (default), console1, parallel0 ...; default: serial0, else the first logged
  -o, --output MODE    short (default: guest output and boot separators), cat (guest output only),
                       short-iso (each line prefixed by its time, host and domain), short-iso-precise
                       (the same with milliseconds), json (one JSON object per line:
                       {"type":"boot",...} and {"type":"line","time","coarse",...,"text"})
      --json           the same as -o json
  -r, --reverse        newest line first (not with -f)
  -g, --grep PATTERN   only lines matching PATTERN (a regular expression; case-insensitive unless
                       it has a capital letter); with -n, the last N matching lines
      --all            every domain of this host's store (each device), each line naming its domain;
                       with -f also domains that appear later (the feed for log shippers: -o json)
  -a, --raw            on a terminal, print the guest's bytes as they are (escape sequences included)
      --no-pager       do not page output to a terminal
      --no-hostname    short-iso: leave the host out

On a terminal, output goes through a pager ($SYSTEMD_PAGER, $PAGER, else less with LESS=FRSXMK),
boot separators are coloured (not with NO_COLOR), and the guest's escape and control sequences
are shown escaped (\\x1b...) except colours: a guest cannot set the title or clear the screen.
Into a pipe or a file, output is the guest's bytes unchanged.
A line's time is when the capture service (virt-consolelog collect) saw it arrive; where the service
did not run, the time of the seal or of the live file's last write, marked coarse ("~" before it in
short-iso, "coarse": true in json); lines -f reads live take the time they are read.
Exit codes: 0 ok (also when the reader of the output quits early), 2 bad option, 3 unknown domain,
boot or device.`;

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
  const read = p.timed ? readTimedHistory : readHistory;
  if (!p.linewise) return printStream(p.sink, read(config, domain, o), source);
  return printLines(
    p.sink,
    p.sanitize,
    (onLive) => read(config, domain, { ...o, onLive }),
    new LineAssembler(source),
    p.plan,
  );
}

export const showCommand: Command = {
  usage: USAGE,
  options: SHOW_OPTIONS,
  async run(args, ctx) {
    const o = parseShowArgs(args);
    const { config } = ctx.config();
    assertStoreReadable(config);
    const isTTY = ctx.io.isTTY === true;
    // Followed output is not paged (journalctl -f neither): less would hold it back.
    const pagerPlan = choosePager(ctx.io.env, isTTY, o.noPager || o.follow === true);
    const pager = pagerPlan ? await startPager(pagerPlan) : undefined;
    const out: NodeJS.WritableStream = pager ? (pager.stdin as Writable) : ctx.io.stdout;
    const controller = new AbortController();
    const stop = () => controller.abort();
    if (o.follow) {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
    try {
      const p = planOutput(o, out, ctx.io.env, isTTY);
      if (o.all) {
        await followAllDomains(config, o, readOptionsOf(o, controller.signal), p, controller.signal);
        return EXIT.ok;
      }
      const domain = o.domain as string;
      if (o.listBoots) {
        await listBoots(config, domain, o, p.sink);
        return EXIT.ok;
      }
      const h = await openHistory(config, domain, o.device);
      const source: LineSource = { name: h.name, uuid: h.uuid };
      h.close();
      await printDomain(config, domain, source, readOptionsOf(o, controller.signal), p);
      return EXIT.ok;
    } catch (e) {
      if (e instanceof HistoryError) {
        ctx.io.stderr.write(`virt-consolelog show: ${e.message}\n`);
        return EXIT.notFound;
      }
      throw e;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await pager?.close();
    }
  },
};

async function listBoots(
  config: Parameters<typeof openHistory>[0],
  domain: string,
  o: ShowArgs,
  sink: ShowSink,
): Promise<void> {
  const h = await openHistory(config, domain, o.device);
  try {
    const total = h.boots.length;
    if (o.output === 'json')
      for (const b of h.boots)
        await sink.write(
          JSON.stringify({
            offset: b.index - total,
            index: b.index,
            id: b.id,
            host: b.host,
            first: b.at,
            last: b.lastTime,
            bytes: b.bytes,
            implicit: b.implicit,
          }) + '\n',
        );
    else {
      await sink.write(
        `${'IDX'.padStart(4)} ${'BOOT ID'.padEnd(16)} ${'HOST'.padEnd(16)} ${'FIRST'.padEnd(24)} ${'LAST'.padEnd(24)} BYTES\n`,
      );
      for (const b of h.boots)
        await sink.write(
          `${String(b.index - total).padStart(4)} ${b.id.padEnd(16)} ${b.host.padEnd(16)} ${b.at.padEnd(24)} ${b.lastTime.padEnd(24)} ${b.bytes}\n`,
        );
    }
  } finally {
    h.close();
  }
}
