// The per-guest rate bound (pure): a token bucket of lines, and what it left out, reported once per
// interval. A flooding guest then costs the journal at most burst + rate x time lines; the store
// still has every line.

export interface RateBound {
  /** Lines per second a guest may send to the journal in the long run; 0 = no bound. */
  rateLines: number;
  /** Lines a guest may send at once after a quiet spell (the bucket's size). */
  burstLines: number;
  /** Left-out lines are reported once per this many milliseconds (and the figures for status are per interval). */
  intervalMs: number;
}

export interface GuestRate {
  tokens: number;
  refilledAt: number;
  /** Start of the current interval. */
  intervalStart: number;
  /** This interval: lines/bytes seen, sent to the journal, left out. */
  seen: { lines: number; bytes: number };
  sent: { lines: number; bytes: number };
  left: { lines: number; bytes: number };
  /** Since the sink started. */
  totalLeft: { lines: number; bytes: number };
  /** The last whole interval's figures (what status shows). */
  last: IntervalFigures | null;
}

export interface IntervalFigures {
  start: number;
  end: number;
  seenLines: number;
  seenBytes: number;
  sentLines: number;
  sentBytes: number;
  leftLines: number;
  leftBytes: number;
}

/** What was left out in one interval, to be reported once. */
export interface LeftOut {
  lines: number;
  bytes: number;
  ms: number;
}

const zero = () => ({ lines: 0, bytes: 0 });

export function newGuestRate(bound: RateBound, now: number): GuestRate {
  return {
    tokens: bound.burstLines,
    refilledAt: now,
    intervalStart: now,
    seen: zero(),
    sent: zero(),
    left: zero(),
    totalLeft: zero(),
    last: null,
  };
}

/**
 * Closes the current interval when it is over: its figures become `last`, and what it left out comes
 * back once as a report. Intervals without lines are skipped over (no report, figures of zero).
 */
export function closeInterval(
  bound: RateBound,
  g: GuestRate,
  now: number,
): { guest: GuestRate; report: LeftOut | null } {
  if (now - g.intervalStart < bound.intervalMs) return { guest: g, report: null };
  const end = g.intervalStart + bound.intervalMs;
  const last: IntervalFigures = {
    start: g.intervalStart,
    end,
    seenLines: g.seen.lines,
    seenBytes: g.seen.bytes,
    sentLines: g.sent.lines,
    sentBytes: g.sent.bytes,
    leftLines: g.left.lines,
    leftBytes: g.left.bytes,
  };
  const report = g.left.lines ? { lines: g.left.lines, bytes: g.left.bytes, ms: bound.intervalMs } : null;
  // A quiet guest's next interval starts at its next line's interval boundary, not at an old one.
  const skipped = Math.floor((now - g.intervalStart) / bound.intervalMs);
  const quiet = skipped > 1;
  return {
    guest: {
      ...g,
      intervalStart: g.intervalStart + skipped * bound.intervalMs,
      seen: zero(),
      sent: zero(),
      left: zero(),
      last: quiet ? { ...emptyFigures(end, g.intervalStart + skipped * bound.intervalMs) } : last,
    },
    report,
  };
}

function emptyFigures(start: number, end: number): IntervalFigures {
  return { start, end, seenLines: 0, seenBytes: 0, sentLines: 0, sentBytes: 0, leftLines: 0, leftBytes: 0 };
}

/** One line of `bytes` bytes at `now`: does it go to the journal? (Close the interval first: closeInterval.) */
export function admit(
  bound: RateBound,
  g: GuestRate,
  now: number,
  bytes: number,
): { guest: GuestRate; admitted: boolean } {
  const seen = { lines: g.seen.lines + 1, bytes: g.seen.bytes + bytes };
  if (bound.rateLines <= 0) {
    return {
      guest: { ...g, seen, sent: { lines: g.sent.lines + 1, bytes: g.sent.bytes + bytes } },
      admitted: true,
    };
  }
  const elapsed = Math.max(0, now - g.refilledAt) / 1000;
  const tokens = Math.min(bound.burstLines, g.tokens + elapsed * bound.rateLines);
  if (tokens >= 1) {
    return {
      guest: {
        ...g,
        tokens: tokens - 1,
        refilledAt: now,
        seen,
        sent: { lines: g.sent.lines + 1, bytes: g.sent.bytes + bytes },
      },
      admitted: true,
    };
  }
  return {
    guest: {
      ...g,
      tokens,
      refilledAt: now,
      seen,
      left: { lines: g.left.lines + 1, bytes: g.left.bytes + bytes },
      totalLeft: { lines: g.totalLeft.lines + 1, bytes: g.totalLeft.bytes + bytes },
    },
    admitted: false,
  };
}

/** The most lines the bound lets through in `ms` milliseconds from a full bucket. */
export function maxAdmitted(bound: RateBound, ms: number): number {
  return bound.rateLines <= 0 ? Infinity : Math.floor(bound.burstLines + (bound.rateLines * ms) / 1000);
}
