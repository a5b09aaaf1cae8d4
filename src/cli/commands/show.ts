// virt-consolelog show: everything a guest printed, oldest first, journalctl-like.
import { EXIT, UsageError, type CliContext, type Command } from '../command.js';
import {
  HistoryError,
  openHistory,
  readHistory,
  type BootInfo,
  type HistoryEvent,
  type ReadOptions,
} from '../../history/reader.js';
import { readTimedLines } from '../../capture/line-times.js';
import { OUTPUT_MODES, printTimed, type OutputMode } from './show-timed.js';

const USAGE = `usage: virt-consolelog show [OPTIONS] DOMAIN

Prints everything DOMAIN (a name or a UUID; undefined domains too) printed on a serial or console,
oldest first: archived segments, virtlogd backups and live files, across restarts and hosts, with
a separator at each boot:  -- Boot <id> on <host> at <time> --

Options:
  -n, --lines N        only the last N lines
  -c, --bytes N        exactly the last N bytes of guest output, oldest first, without separators
                       (the OpenStack console-log contract)
  -b, --boot [SEL]     one boot: 0 or nothing = newest, -1 the one before, ...; 1 = oldest; or a boot id
      --list-boots     list the boots (index, id, host, first and last time, bytes)
  -f, --follow         keep printing new output (through virtlogd rotation and restarts); Ctrl-C ends
      --since TIME     only boots still running at or after TIME (ISO 8601, or "-2h", "-30m", "-1d")
      --until TIME     only boots started at or before TIME
      --device DEV     serial0 (default), console1, parallel0 ...; default: serial0, else the first logged
      --json           one JSON object per line: {"type":"boot",...} and {"type":"line",...,"time","coarse"}
  -o, --output MODE    short (default), short-iso (each line prefixed with its time), short-iso-precise (ms)

A line's time is when the capture service (virt-consolelog collect) saw it arrive; where the service
did not run, the time of the seal or of the live file's last write, marked coarse ("~" before it,
"coarse": true in JSON). --since/--until select lines by that time (with -f: whole boots).
Exit codes: 0 ok, 2 bad option, 3 unknown domain, boot or device.`;

export interface ShowArgs extends ReadOptions {
  domain: string;
  listBoots: boolean;
  json: boolean;
  output?: OutputMode;
}

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

export function parseShowArgs(args: readonly string[], now = new Date()): ShowArgs {
  const out: Partial<ShowArgs> & { listBoots: boolean; json: boolean } = { listBoots: false, json: false };
  const rest = [...args];
  const positional: string[] = [];
  while (rest.length) {
    const raw = rest.shift() as string;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const a = eq > 0 ? raw.slice(0, eq) : raw;
    const inline = eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = () => (inline !== undefined ? inline : rest.shift());
    switch (a) {
      case '-n':
      case '--lines':
        out.lines = count(a, value());
        break;
      case '-c':
      case '--bytes':
        out.bytes = count(a, value());
        break;
      case '-b':
      case '--boot': {
        // Optional value, as journalctl: a number (also negative) or a boot id.
        const next = inline ?? rest[0];
        if (inline !== undefined) out.boot = inline;
        else if (
          next !== undefined &&
          (/^[-+]?\d+$/.test(next) || /^[0-9a-f]{6,}$/.test(next)) &&
          rest.length > 1
        ) {
          out.boot = rest.shift() as string;
        } else out.boot = '';
        break;
      }
      case '--list-boots':
        out.listBoots = true;
        break;
      case '-f':
      case '--follow':
        out.follow = true;
        break;
      case '--since':
        out.since = parseTime(a, value(), now);
        break;
      case '--until':
        out.until = parseTime(a, value(), now);
        break;
      case '--device': {
        const d = value();
        if (!d || !/^(serial|console|parallel)\d+$/.test(d))
          throw new UsageError(
            `--device: expected serialN, consoleN or parallelN, got ${JSON.stringify(d ?? '')}`,
          );
        out.device = d;
        break;
      }
      case '--json':
        out.json = true;
        break;
      case '-o':
      case '--output': {
        const m = value();
        if (!OUTPUT_MODES.includes(m as OutputMode))
          throw new UsageError(`${a}: expected ${OUTPUT_MODES.join(', ')}, got ${JSON.stringify(m ?? '')}`);
        out.output = m as OutputMode;
        break;
      }
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
        positional.push(a);
    }
  }
  if (positional.length !== 1)
    throw new UsageError(
      positional.length ? `one DOMAIN only, got ${positional.join(' ')}` : 'DOMAIN missing',
    );
  if (out.bytes !== undefined && out.lines !== undefined)
    throw new UsageError('-n and -c exclude each other');
  if (out.bytes !== undefined && out.json)
    throw new UsageError('-c prints raw bytes: it cannot be combined with --json');
  return { ...out, domain: positional[0] as string };
}

export function bootSeparator(b: BootInfo): string {
  if (b.implicit) return `-- Boot - on ${b.host} (output from before boots were marked) --\n`;
  return `-- Boot ${b.id} on ${b.host} at ${b.at} --\n`;
}

/** Writes and waits until the stream is done with `data`: the reader reuses its buffers. */
function write(ctx: CliContext, data: string | Buffer): Promise<void> {
  // Errors (EPIPE of `| head`) stay the stream's 'error' event, as before: only wait here.
  return new Promise((resolve) => void ctx.io.stdout.write(data, () => resolve()));
}

/** Prints history events as text (separators at line starts) or JSON lines. */
export async function printEvents(
  ctx: CliContext,
  events: AsyncIterable<HistoryEvent>,
  json: boolean,
): Promise<void> {
  let atLineStart = true;
  let partial: Buffer[] = [];
  let boot: BootInfo | undefined;
  let host = '';
  let device = '';
  const flushLine = async () => {
    if (!partial.length) return;
    const text = Buffer.concat(partial)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    partial = [];
    await write(ctx, JSON.stringify({ type: 'line', boot: boot?.id ?? null, host, device, text }) + '\n');
  };
  for await (const e of events) {
    if (e.type === 'boot') {
      if (json) {
        await flushLine();
        boot = e.boot;
        await write(ctx, JSON.stringify({ type: 'boot', ...e.boot }) + '\n');
      } else {
        await write(ctx, (atLineStart ? '' : '\n') + bootSeparator(e.boot));
        atLineStart = true;
      }
      continue;
    }
    if (!e.data.length) continue;
    if (!json) {
      await write(ctx, e.data);
      atLineStart = e.data[e.data.length - 1] === 10;
      continue;
    }
    host = e.host;
    device = e.device;
    let d = e.data;
    for (let nl = d.indexOf(10); nl >= 0; nl = d.indexOf(10)) {
      partial.push(d.subarray(0, nl + 1));
      await flushLine();
      d = d.subarray(nl + 1);
    }
    if (d.length) partial.push(Buffer.from(d));
  }
  if (json) await flushLine();
}

export const showCommand: Command = {
  usage: USAGE,
  async run(args, ctx) {
    const o = parseShowArgs(args);
    const { config } = ctx.config();
    try {
      if (o.listBoots) {
        const h = await openHistory(config, o.domain, o.device);
        try {
          const total = h.boots.length;
          if (o.json)
            for (const b of h.boots)
              await write(
                ctx,
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
            await write(
              ctx,
              `${'IDX'.padStart(4)} ${'BOOT ID'.padEnd(16)} ${'HOST'.padEnd(16)} ${'FIRST'.padEnd(24)} ${'LAST'.padEnd(24)} BYTES\n`,
            );
            for (const b of h.boots)
              await write(
                ctx,
                `${String(b.index - total).padStart(4)} ${b.id.padEnd(16)} ${b.host.padEnd(16)} ${b.at.padEnd(24)} ${b.lastTime.padEnd(24)} ${b.bytes}\n`,
              );
          }
        } finally {
          h.close();
        }
        return EXIT.ok;
      }
      const controller = new AbortController();
      const stop = () => controller.abort();
      if (o.follow) {
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }
      try {
        // Per-line times (issue 17): stamped output, JSON, or a time window, except follow and -c.
        const timed =
          !o.follow &&
          o.bytes === undefined &&
          ((o.output ?? 'short') !== 'short' || o.json || o.since || o.until);
        if (timed)
          await printTimed(
            ctx,
            readTimedLines(config, o.domain, o),
            o.output ?? 'short',
            o.json,
            bootSeparator,
          );
        else
          await printEvents(ctx, readHistory(config, o.domain, { ...o, signal: controller.signal }), o.json);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      return EXIT.ok;
    } catch (e) {
      if (e instanceof HistoryError) {
        ctx.io.stderr.write(`virt-consolelog show: ${e.message}\n`);
        return EXIT.notFound;
      }
      throw e;
    }
  },
};
