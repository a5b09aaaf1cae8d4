// How `show` prints: guest output cut into lines (for -o short-iso/json, -g, -r, --all), and the
// formatters. Pure: events in, strings and buffers out.
import type { BootInfo, HistoryEvent } from '../history/reader.js';
import { paint } from '../terminal/colour.js';

export const OUTPUT_MODES = ['short', 'cat', 'short-iso', 'short-iso-precise', 'json'] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

/** Who printed a line: filled by `show` from the domain it reads. */
export interface LineSource {
  name: string | undefined;
  uuid: string;
}

/** One guest line. `time` is ms since the epoch; `coarse` when it is not the line's own time. */
export interface ShowLine {
  text: Buffer;
  /** The line ended with a newline (a last line may be a prompt still being typed at). */
  complete: boolean;
  host: string;
  device: string;
  boot: BootInfo | undefined;
  time: number | undefined;
  coarse: boolean;
  source: LineSource;
}

export type ShowItem =
  { kind: 'boot'; boot: BootInfo; source: LineSource } | { kind: 'line'; line: ShowLine };

/**
 * Cuts history events into lines. Each line's time is the best known: the event's own `time` when
 * the reader gives one, else the time the live part was read (`live()`), else its boot's start
 * (coarse).
 */
export class LineAssembler {
  private partial: Buffer[] = [];
  private partialTime: { time: number | undefined; coarse: boolean } | undefined;
  private boot: BootInfo | undefined;
  private host = '';
  private device = '';
  private liveSince: number | undefined;

  constructor(private readonly source: LineSource) {}

  /** From now on lines are read as the guest prints them: their read time is a fair time. */
  live(now: number): void {
    this.liveSince = now;
  }

  feed(e: HistoryEvent, now = Date.now()): ShowItem[] {
    const out: ShowItem[] = [];
    if (e.type === 'boot') {
      out.push(...this.flush());
      this.boot = e.boot;
      out.push({ kind: 'boot', boot: e.boot, source: this.source });
      return out;
    }
    this.host = e.host;
    this.device = e.device;
    const time =
      e.time !== undefined
        ? { time: e.time, coarse: e.coarse ?? false }
        : this.liveSince !== undefined
          ? { time: now, coarse: true }
          : { time: this.boot && !this.boot.implicit ? Date.parse(this.boot.at) : undefined, coarse: true };
    let data = e.data;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10)) {
      this.partial.push(data.subarray(0, nl + 1));
      this.partialTime ??= time;
      out.push(this.take(true));
      data = data.subarray(nl + 1);
    }
    if (data.length) {
      this.partial.push(Buffer.from(data));
      this.partialTime ??= time;
    }
    return out;
  }

  /** The unfinished last line, if any. */
  flush(): ShowItem[] {
    return this.partial.length ? [this.take(false)] : [];
  }

  private take(complete: boolean): ShowItem {
    let text = Buffer.concat(this.partial);
    if (complete) text = text.subarray(0, text.length - (text[text.length - 2] === 13 ? 2 : 1));
    const t = this.partialTime ?? { time: undefined, coarse: true };
    this.partial = [];
    this.partialTime = undefined;
    return {
      kind: 'line',
      line: {
        text,
        complete,
        host: this.host,
        device: this.device,
        boot: this.boot,
        time: t.time,
        coarse: t.coarse,
        source: this.source,
      },
    };
  }
}

export function bootSeparator(b: BootInfo, colour = false, source?: LineSource): string {
  const who = source?.name ? `${source.name}: ` : '';
  const text = b.implicit
    ? `-- ${who}Boot - on ${b.host} (output from before boots were marked) --`
    : `-- ${who}Boot ${b.id} on ${b.host} at ${b.at} --`;
  return paint(colour, 'blue', text) + '\n';
}

/**
 * ISO 8601 with the local offset, as journalctl's short-iso (2026-12-03T23:05:01+0000);
 * `precise` adds milliseconds, as short-iso-precise (2026-12-03T23:05:01.042+0000).
 */
export function isoTime(
  ms: number,
  offsetMinutes = -new Date(ms).getTimezoneOffset(),
  precise = false,
): string {
  const local = new Date(ms + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const off = Math.abs(offsetMinutes);
  const hh = String(Math.floor(off / 60)).padStart(2, '0');
  const mm = String(off % 60).padStart(2, '0');
  return `${local.toISOString().slice(0, precise ? 23 : 19)}${sign}${hh}${mm}`;
}

export interface FormatOptions {
  mode: OutputMode;
  /** Several domains in one output (--all): each line names its domain. */
  withName: boolean;
  hostname: boolean;
  colour: boolean;
}

/** A line as text (its bytes, not decoded: the terminal sanitiser sees them after) or as JSON. */
export function formatLine(l: ShowLine, o: FormatOptions): Buffer {
  const nl = l.complete ? '\n' : '';
  if (o.mode === 'json') {
    const obj = {
      type: 'line',
      time: l.time === undefined ? null : new Date(l.time).toISOString(),
      coarse: l.coarse,
      name: l.source.name ?? null,
      uuid: l.source.uuid,
      host: l.host,
      device: l.device,
      boot: l.boot?.id ?? null,
      text: l.text.toString('utf8'),
    };
    return Buffer.from(JSON.stringify(obj) + '\n');
  }
  const prefix: string[] = [];
  const iso = o.mode === 'short-iso' || o.mode === 'short-iso-precise';
  if (iso) {
    const precise = o.mode === 'short-iso-precise';
    // A coarse time (a seal's, not the capture service's arrival time) is marked with `~`.
    if (l.time === undefined) prefix.push('-'.padEnd(precise ? 28 : 24));
    else prefix.push(`${l.coarse ? '~' : ''}${isoTime(l.time, undefined, precise)}`);
    if (o.hostname) prefix.push(l.host);
  }
  if (o.withName || iso) prefix.push(`${l.source.name ?? l.source.uuid}[${l.device}]:`);
  if (!prefix.length) return Buffer.concat([l.text, Buffer.from(nl)]);
  return Buffer.concat([Buffer.from(prefix.join(' ') + ' '), l.text, Buffer.from(nl)]);
}

export function formatBoot(b: BootInfo, source: LineSource, o: FormatOptions): Buffer | undefined {
  if (o.mode === 'cat') return undefined;
  if (o.mode === 'json')
    return Buffer.from(
      JSON.stringify({ type: 'boot', ...b, name: source.name ?? null, uuid: source.uuid }) + '\n',
    );
  return Buffer.from(bootSeparator(b, o.colour, o.withName ? source : undefined));
}

/** -g PATTERN: journalctl's smart case (case-insensitive unless the pattern has a capital). */
export function grepMatcher(pattern: string): (l: ShowLine) => boolean {
  const re = new RegExp(pattern, /[A-Z]/.test(pattern) ? 'u' : 'iu');
  return (l) => re.test(l.text.toString('utf8'));
}

/**
 * Keeps lines that match; a boot's separator only in front of its first kept line. Stateful over
 * a stream of items (follow), otherwise pure.
 */
export function grepItems(match: (l: ShowLine) => boolean): (item: ShowItem) => ShowItem[] {
  let pendingBoot: ShowItem | undefined;
  return (item) => {
    if (item.kind === 'boot') {
      pendingBoot = item;
      return [];
    }
    if (!match(item.line)) return [];
    const out = pendingBoot ? [pendingBoot, item] : [item];
    pendingBoot = undefined;
    return out;
  };
}

/** -r: newest first; each boot's separator stays in front of its (now reversed) lines. */
export function reverseItems(items: readonly ShowItem[]): ShowItem[] {
  const groups: ShowItem[][] = [[]];
  for (const it of items) {
    if (it.kind === 'boot') groups.push([it]);
    else (groups[groups.length - 1] as ShowItem[]).push(it);
  }
  const out: ShowItem[] = [];
  for (const g of groups.reverse()) {
    const head = g[0]?.kind === 'boot' ? [g[0]] : [];
    const lines = g.slice(head.length).reverse();
    // A reversed last line without its newline would run into the next one.
    out.push(
      ...head,
      ...lines.map((l) => (l.kind === 'line' ? { kind: l.kind, line: { ...l.line, complete: true } } : l)),
    );
  }
  return out;
}

/** The last n lines of items (their boots' separators kept in front of them). */
export function lastLines(items: readonly ShowItem[], n: number): ShowItem[] {
  if (n <= 0) return [];
  let seen = 0;
  let start = items.length;
  while (start > 0 && seen < n) {
    start--;
    if ((items[start] as ShowItem).kind === 'line') seen++;
  }
  const kept = items.slice(start);
  if (kept[0]?.kind !== 'boot') {
    const boot = [...items.slice(0, start)].reverse().find((i) => i.kind === 'boot');
    if (boot) kept.unshift(boot);
  }
  return kept;
}
