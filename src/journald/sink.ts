// The journald output of the capture service: createJournaldSink(...) is the one call that wires it
// in. Each whole guest line becomes one journal entry with the guest's identity in fields
// (VIRT_DOMAIN_NAME, VIRT_DOMAIN_UUID, VIRT_DEVICE, VIRT_BOOT_ID), bounded per guest (rate.ts).
import type { CapturedLine, LineSink } from '../capture/sink.js';
import type { Config } from '../config/schema.js';
import {
  MAX_MESSAGE_BYTES,
  encodeEntry,
  encodeFramed,
  encodeLineFramed,
  frame,
  lineFields,
  lineTail,
  reportFields,
} from './encode.js';
import { PUBLISH_MS, guestFigures, type JournaldFigures } from './figures.js';
import { writeFigures } from './figures-file.js';
import { admit, closeInterval, newGuestRate, type GuestRate, type LeftOut, type RateBound } from './rate.js';
import { startSender, type Sender } from './sender.js';

/** Left-out lines are reported (and status's figures computed) per this interval. */
export const REPORT_INTERVAL_MS = 10_000;

export interface JournaldSinkOptions {
  config: Pick<Config, 'journaldForward' | 'journaldRateLines' | 'journaldBurstLines' | 'stateDir'>;
  /** Where the sink says what keeps lines from the journal (each problem once), e.g. the service's stderr. */
  log?: (message: string) => void;
  /** Tests only: another socket, perl, interval or clock. */
  socketPath?: string;
  perl?: string;
  intervalMs?: number;
  now?: () => number;
}

interface Guest {
  domain: string;
  rate: GuestRate;
  lastLineAt: number | null;
  /** Per device: the fields after MESSAGE, encoded once for the domain name and boot they hold. */
  tails: Map<string, { domain: string; boot: string | null; tail: Buffer }>;
}

/** The entry of one line, its guest's fields encoded once per device, name and boot (2000 lines/s on a busy host). */
function encodeLine(g: Guest, line: CapturedLine): Buffer {
  if (line.text.length > MAX_MESSAGE_BYTES) return encodeFramed(lineFields(line));
  let t = g.tails.get(line.device);
  if (!t || t.domain !== line.domain || t.boot !== line.boot) {
    t = { domain: line.domain, boot: line.boot, tail: lineTail(line) };
    g.tails.set(line.device, t);
  }
  return encodeLineFramed(line.text, t.tail);
}

/**
 * The journal output for the capture service. With `journald_forward = 0` a sink that does nothing;
 * on a host without journald it says so once through `log` and drops lines (the store has them).
 * Publishes its figures to <state_dir>/journald.json for `status` and `doctor`.
 */
export function createJournaldSink(o: JournaldSinkOptions): LineSink {
  if (!o.config.journaldForward) return { write() {}, close: async () => {} };
  const log = o.log ?? ((m: string) => process.stderr.write(`virt-consolelog: ${m}\n`));
  const now = o.now ?? Date.now;
  const bound: RateBound = {
    rateLines: o.config.journaldRateLines,
    burstLines: Math.max(1, o.config.journaldBurstLines),
    intervalMs: o.intervalMs ?? REPORT_INTERVAL_MS,
  };
  const said = new Set<string>();
  const sayOnce = (m: string) => {
    if (said.has(m)) return;
    said.add(m);
    log(m);
  };
  const sender: Sender = startSender({
    socketPath: o.socketPath,
    perl: o.perl,
    onProblem: (p) => {
      if (p) sayOnce(`journald: ${p}; console lines stay in the store only`);
    },
  });
  const guests = new Map<string, Guest>();
  let behind = 0;
  let publishedAt = 0;

  const sendReport = (g: Guest, uuid: string, left: LeftOut) => {
    const entry = encodeEntry(
      reportFields({
        domain: g.domain,
        uuid,
        lines: left.lines,
        bytes: left.bytes,
        seconds: Math.max(1, Math.round(left.ms / 1000)),
        rateLines: bound.rateLines,
      }),
    );
    sender.send(frame(entry));
  };
  const closeIntervals = (t: number) => {
    for (const [uuid, g] of guests) {
      const c = closeInterval(bound, g.rate, t);
      g.rate = c.guest;
      if (c.report) sendReport(g, uuid, c.report);
    }
  };
  const publish = (t: number, force = false) => {
    if (!force && t - publishedAt < PUBLISH_MS) return;
    publishedAt = t;
    const figures: JournaldFigures = {
      v: 1,
      pid: process.pid,
      updatedAt: t,
      problem: sender.problem() ?? (behind ? `${behind} lines dropped: journald too far behind` : null),
      bound,
      guests: Object.fromEntries(
        [...guests].map(([uuid, g]) => [uuid, guestFigures(g.domain, g.rate, g.lastLineAt)]),
      ),
    };
    try {
      writeFigures(o.config.stateDir, figures);
    } catch (e) {
      sayOnce(`journald: cannot write figures to ${o.config.stateDir}: ${(e as Error).message}`);
    }
  };
  // Reports go out once per interval even when the guest has gone quiet.
  const timer = setInterval(() => {
    const t = now();
    closeIntervals(t);
    publish(t);
  }, 1000);
  timer.unref();

  return {
    write(line: CapturedLine) {
      try {
        const t = now();
        let g = guests.get(line.uuid);
        if (!g) {
          g = { domain: line.domain, rate: newGuestRate(bound, t), lastLineAt: null, tails: new Map() };
          guests.set(line.uuid, g);
        }
        g.domain = line.domain;
        g.lastLineAt = line.time;
        const c = closeInterval(bound, g.rate, t);
        if (c.report) sendReport(g, line.uuid, c.report);
        const a = admit(bound, c.guest, t, line.text.length);
        g.rate = a.guest;
        if (a.admitted && !sender.send(encodeLine(g, line)) && !sender.problem()) behind++;
        publish(t);
      } catch (e) {
        sayOnce(`journald: a line of ${line.domain} not forwarded: ${(e as Error).message}`);
      }
    },
    async close() {
      clearInterval(timer);
      const t = now();
      // What the unfinished interval left out is reported now rather than never.
      for (const [uuid, g] of guests)
        if (g.rate.left.lines)
          sendReport(g, uuid, {
            lines: g.rate.left.lines,
            bytes: g.rate.left.bytes,
            ms: t - g.rate.intervalStart,
          });
      await sender.close();
      // After the helper ended: its last word (a problem) is in the figures too.
      publish(now(), true);
    },
  };
}
