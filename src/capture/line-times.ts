// A time on every line: the history read line by line, each line with the arrival time the capture
// service recorded for its last byte (times-<host>.jsonl), or, where no point covers it (the service
// was not running), the time of its piece's seal or live file, marked coarse. Times never go
// backwards: a line is never shown earlier than the line before it. --since/--until select lines.
import * as fs from 'node:fs';
import type { Config } from '../config/schema.js';
import type { Piece } from '../history/merge.js';
import {
  readOpenHistory,
  selectRange,
  streamRange,
  type BootInfo,
  type History,
  type HistoryEvent,
  type ReadOptions,
} from '../history/reader.js';
import { followLive } from '../history/follow.js';
import { SafeDir } from '../store/safe-fs.js';
import { readSidecars } from '../store/segments.js';
import { IMPORTED_TIMES_FILE, parseImported, segmentRun } from './imported-times.js';
import { parseTimes, pickRun, timeAt, timedKey, timesFileName, type TimePoint } from './times.js';

export type TimedEvent =
  | { type: 'boot'; boot: BootInfo }
  | {
      type: 'line';
      /** The line with its newline (none for a last line the guest has not finished). */
      data: Buffer;
      host: string;
      device: string;
      /** Milliseconds since the epoch. */
      time: number;
      /** No arrival time was recorded: the time of the seal or of the live file's last write. */
      coarse: boolean;
    };

/** Maps (piece, offset of a line's end) to a time, per piece: origin file, run of points, fallback. */
class PieceTimes {
  private readonly perPiece = new Map<number, { run?: TimePoint[]; base: number; fallback: number }>();
  private readonly files = new Map<string, Map<string, TimePoint[][]>>();

  constructor(private readonly h: History) {}

  private timesOf(host: string): Map<string, TimePoint[][]> {
    let m = this.files.get(host);
    if (m) return m;
    m = parseTimes(host, this.readDomainFile(timesFileName(host)) ?? '');
    this.files.set(host, m);
    return m;
  }

  private imported: Map<string, TimePoint[]> | undefined;

  /** Points fetched with imported segments (imported-times.jsonl). */
  private importedTimes(): Map<string, TimePoint[]> {
    return (this.imported ??= parseImported(this.readDomainFile(IMPORTED_TIMES_FILE) ?? ''));
  }

  private readDomainFile(name: string): string | undefined {
    try {
      const dir = SafeDir.openBeneath(this.h.config.logRoot, [this.h.uuid]);
      try {
        return dir.readText(name);
      } finally {
        dir.close();
      }
    } catch {
      return undefined;
    }
  }

  private of(i: number) {
    let e = this.perPiece.get(i);
    if (e) return e;
    const p = this.h.pieces[i] as Piece;
    const fallback = Date.parse(p.lastTime) || Date.now();
    e = { base: 0, fallback };
    if (p.source.kind === 'live') {
      const fd = this.h.fds.get(`${p.source.dev}:${p.source.ino}`);
      let birth = 0;
      try {
        if (fd !== undefined) birth = Math.floor(fs.fstatSync(fd).birthtimeMs);
      } catch {
        birth = 0;
      }
      const runs = this.timesOf(p.host).get(
        timedKey({ host: p.host, dev: p.source.dev, ino: p.source.ino, birth }),
      );
      const run = pickRun(runs, Date.now());
      if (run) e.run = run;
    } else if (this.h.archive) {
      const meta = readSidecars(this.h.archive, [p.source.key])[0];
      if (meta) {
        const { run, base } = segmentRun(
          meta,
          (h) => this.timesOf(h),
          () => this.importedTimes(),
        );
        e.base = base;
        if (run) e.run = run;
      }
    }
    this.perPiece.set(i, e);
    return e;
  }

  /** Time of the byte before `end` in piece `i` (source coordinates). */
  at(i: number, end: number): { time: number; coarse: boolean } {
    const e = this.of(i);
    const t = timeAt(e.run, e.base + end);
    return t === undefined ? { time: e.fallback, coarse: true } : { time: t, coarse: false };
  }
}

/**
 * readHistory's lines, each with a time. `since`/`until` select lines (not boots); `lines` keeps the
 * last N of those. Not for follow or raw bytes.
 */
export async function* readTimedLines(
  config: Config,
  domain: string,
  o: ReadOptions = {},
): AsyncGenerator<TimedEvent> {
  yield* readOpenHistory(config, domain, o.device, (h) => timedLines(h, o));
}

/**
 * readHistory with a time on every line, for `show`: boot events, and data events that each hold
 * one line with its `time` and `coarse`; with `follow`, then what the guest prints (untimed: the
 * caller stamps it when read).
 */
export async function* readTimedHistory(
  config: Config,
  domain: string,
  o: ReadOptions = {},
): AsyncGenerator<HistoryEvent> {
  yield* readOpenHistory(config, domain, o.device, async function* (h): AsyncGenerator<HistoryEvent> {
    for await (const e of timedLines(h, o))
      yield e.type === 'boot'
        ? e
        : { type: 'data', data: e.data, host: e.host, device: e.device, time: e.time, coarse: e.coarse };
    if (o.follow) {
      o.onLive?.();
      const live = followLive(h, false, o);
      yield* o.since || o.until ? followedInRange(live, o.since?.getTime(), o.until?.getTime()) : live;
    }
  });
}

/**
 * What -f reads, cut to the lines read within [since, until] (a followed line's time is when it
 * is read, as the printer stamps it): the decision is taken at each line's first byte and holds
 * to its end; a boot is passed on only in front of a line kept. As journalctl -f, a time past
 * --until ends no follow: later lines are just not printed.
 */
export async function* followedInRange(
  events: AsyncIterable<HistoryEvent>,
  since: number | undefined,
  until: number | undefined,
  now: () => number = Date.now,
): AsyncGenerator<HistoryEvent> {
  let keep: boolean | undefined; // undefined: at a line start
  let boot: HistoryEvent | undefined;
  for await (const e of events) {
    if (e.type === 'boot') {
      boot = e;
      keep = undefined;
      continue;
    }
    let d = e.data;
    let at = e.offset;
    while (d.length) {
      if (keep === undefined) {
        const t = now();
        keep = (since === undefined || t >= since) && (until === undefined || t <= until);
      }
      const nl = d.indexOf(10);
      const part = nl < 0 ? d : d.subarray(0, nl + 1);
      if (keep) {
        if (boot) yield boot;
        boot = undefined;
        yield { ...e, data: part, ...(at !== undefined ? { offset: at } : {}) };
      }
      if (nl >= 0) keep = undefined;
      d = d.subarray(part.length);
      if (at !== undefined) at += part.length;
    }
  }
}

async function* timedLines(h: History, o: ReadOptions): AsyncGenerator<TimedEvent> {
  const { since, until, lines, ...rest } = o;
  const { from, to } = await selectRange(
    h,
    since || until ? { ...rest } : { ...rest, ...(lines !== undefined ? { lines } : {}) },
  );
  const times = new PieceTimes(h);
  const lo = since?.getTime() ?? -Infinity;
  const hi = until?.getTime() ?? Infinity;
  const tailN = since || until ? lines : undefined;
  // With -n, the last N lines, each with the boot it belongs to (announced before the first one).
  type Line = Extract<TimedEvent, { type: 'line' }>;
  const kept: { line: Line; boot: TimedEvent | undefined; opens: boolean }[] = [];
  let currentBoot: TimedEvent | undefined;
  let opens = false;
  let partial: Buffer[] = [];
  let last = -Infinity;
  let host = '';
  let device = '';
  const out: TimedEvent[] = [];
  const line = (data: Buffer, at: { time: number; coarse: boolean }) => {
    const time = Math.max(at.time, last);
    last = time;
    if (time < lo || time > hi) return;
    const l: Line = { type: 'line', data, host, device, time, coarse: at.coarse };
    if (tailN !== undefined) {
      kept.push({ line: l, boot: currentBoot, opens });
      if (kept.length > tailN) kept.shift();
    } else {
      if (opens && currentBoot) out.push(currentBoot);
      out.push(l);
    }
    opens = false;
  };
  let tail: { piece: number; end: number } | undefined;
  for await (const e of streamRange(h, from, to, false)) {
    if (e.type === 'boot') {
      if (partial.length && tail) line(Buffer.concat(partial), times.at(tail.piece, tail.end));
      partial = [];
      currentBoot = e;
      opens = true;
    } else if (e.piece !== undefined && e.offset !== undefined) {
      host = e.host;
      device = e.device;
      let d = e.data;
      let off = e.offset;
      for (let nl = d.indexOf(10); nl >= 0; nl = d.indexOf(10)) {
        // Data events are views into reused buffers: a line is copied out whole.
        partial.push(d.subarray(0, nl + 1));
        line(Buffer.concat(partial), times.at(e.piece, off + nl + 1));
        partial = [];
        d = d.subarray(nl + 1);
        off += nl + 1;
      }
      if (d.length) partial.push(Buffer.from(d));
      tail = { piece: e.piece, end: off + d.length };
    }
    yield* out.splice(0);
  }
  if (partial.length && tail) line(Buffer.concat(partial), times.at(tail.piece, tail.end));
  yield* out.splice(0);
  for (const [i, k] of kept.entries()) {
    if ((i === 0 || k.opens) && k.boot) yield k.boot;
    yield k.line;
  }
}
