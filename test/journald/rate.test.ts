import test from 'ava';
import {
  admit,
  closeInterval,
  maxAdmitted,
  newGuestRate,
  type GuestRate,
  type RateBound,
} from '../../src/journald/rate.js';
import {
  describeGuest,
  guestFigures,
  journaldCheck,
  parseFigures,
  type JournaldFigures,
} from '../../src/journald/figures.js';

const bound: RateBound = { rateLines: 10, burstLines: 20, intervalMs: 10_000 };

/** Feeds `n` lines of `bytes` bytes spread evenly over [from, from + ms); returns admitted count and state. */
function feed(g: GuestRate, from: number, ms: number, n: number, bytes = 10) {
  let admitted = 0;
  const reports = [];
  for (let i = 0; i < n; i++) {
    const t = from + Math.floor((i * ms) / n);
    const c = closeInterval(bound, g, t);
    if (c.report) reports.push(c.report);
    const a = admit(bound, c.guest, t, bytes);
    g = a.guest;
    if (a.admitted) admitted++;
  }
  return { g, admitted, reports };
}

test('a quiet guest gets every line through; a burst up to burstLines passes at once', (t) => {
  const r = feed(newGuestRate(bound, 0), 0, 0, 20);
  t.is(r.admitted, 20);
  t.is(r.g.left.lines, 0);
  const slow = feed(newGuestRate(bound, 0), 0, 9_000, 90); // 10 lines/s
  t.is(slow.admitted, 90);
});

test('a flood gets burst + rate x time lines through, the rest counted as left out', (t) => {
  const r = feed(newGuestRate(bound, 0), 0, 5_000, 5_000, 7); // 1000 lines/s for 5 s
  t.true(r.admitted <= maxAdmitted(bound, 5_000), `${r.admitted}`);
  t.true(r.admitted >= maxAdmitted(bound, 5_000) - 1, `${r.admitted}`);
  t.is(r.g.left.lines, 5_000 - r.admitted);
  t.is(r.g.left.bytes, (5_000 - r.admitted) * 7);
  t.is(r.g.totalLeft.lines, 5_000 - r.admitted);
});

test('what was left out is reported once, when its interval ends, then counting starts again', (t) => {
  const first = feed(newGuestRate(bound, 0), 0, 9_999, 1_000);
  t.deepEqual(first.reports, []);
  const left = first.g.left.lines;
  t.true(left > 0);
  const c = closeInterval(bound, first.g, 10_000);
  t.deepEqual(c.report, { lines: left, bytes: left * 10, ms: 10_000 });
  t.is(c.guest.left.lines, 0);
  t.is(c.guest.last?.leftLines, left);
  t.is(c.guest.last?.seenLines, 1_000);
  t.deepEqual(closeInterval(bound, c.guest, 10_500).report, null, 'once');
  t.is(c.guest.totalLeft.lines, left, 'the total stays');
  // A quiet interval after the flood: no report, figures of zero, the bucket refilled.
  const quiet = closeInterval(bound, c.guest, 20_000);
  t.is(quiet.report, null);
  t.is(quiet.guest.last?.seenLines, 0);
  t.is(feed(quiet.guest, 20_000, 0, 20).admitted, 20);
});

test('a guest quiet for several intervals starts a new interval aligned to the old ones', (t) => {
  const g = feed(newGuestRate(bound, 0), 0, 0, 50).g;
  const c = closeInterval(bound, g, 35_000);
  t.is(c.guest.intervalStart, 30_000);
  t.deepEqual(c.report, { lines: 30, bytes: 300, ms: 10_000 });
  t.is(c.guest.last?.seenLines, 0, 'the last whole interval (20-30 s) was quiet');
});

test('rate 0 means no bound', (t) => {
  const free: RateBound = { rateLines: 0, burstLines: 1, intervalMs: 10_000 };
  let g = newGuestRate(free, 0);
  for (let i = 0; i < 10_000; i++) {
    const a = admit(free, g, 0, 1);
    t.true(a.admitted);
    g = a.guest;
  }
  t.is(g.sent.lines, 10_000);
  t.is(maxAdmitted(free, 1000), Infinity);
});

test('figures: bytes/s from the last whole interval; status line and doctor verdict', (t) => {
  let g = feed(newGuestRate(bound, 0), 0, 9_999, 1_000, 100).g;
  g = closeInterval(bound, g, 10_000).guest;
  const gf = guestFigures('web1', g, 9_999);
  t.is(gf.seenBytesPerSecond, 10_000);
  t.is(gf.seenLinesPerSecond, 100);
  t.true(gf.aboveBound);
  const figures: JournaldFigures = {
    v: 1,
    pid: 1,
    updatedAt: 10_000,
    problem: null,
    bound,
    guests: { u1: gf },
  };
  t.deepEqual(parseFigures(JSON.stringify(figures)), figures);
  t.is(parseFigures('{"v":2}'), undefined);
  t.is(parseFigures('not json'), undefined);
  const s = describeGuest(figures, 'u1', true) ?? '';
  t.regex(
    s,
    /^\d+(\.\d)? KiB\/s to the journal \(guest prints 9\.8 KiB\/s\), \d+ lines held back in the last 10 s/,
  );
  t.is(describeGuest(figures, 'other', true), undefined);
  t.regex(describeGuest(figures, 'u1', false) ?? '', /the capture service is not running/);
  const warn = journaldCheck({ forward: true, configPath: '/etc/x.conf', figures, current: true });
  t.is(warn.status, 'warn');
  t.regex(warn.message, /web1 \(u1\) prints 100 lines\/s/);
  t.regex(warn.fix ?? '', /journald_rate_lines in \/etc\/x\.conf/);
  t.is(journaldCheck({ forward: false, configPath: 'c', figures, current: true }).status, 'skip');
  t.is(journaldCheck({ forward: true, configPath: 'c', figures, current: false }).status, 'skip');
  t.is(
    journaldCheck({
      forward: true,
      configPath: 'c',
      figures: { ...figures, problem: 'no journald' },
      current: true,
    }).status,
    'warn',
  );
  const calm = { ...figures, guests: { u1: { ...gf, aboveBound: false } } };
  t.is(journaldCheck({ forward: true, configPath: 'c', figures: calm, current: true }).status, 'ok');
});
