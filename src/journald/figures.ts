// The figures the journald sink publishes for `status` and `doctor` (pure): what each guest sends,
// what the rate bound held back. The sink writes them to <state_dir>/journald.json (figures-file.ts).
import type { GuestRate, RateBound } from './rate.js';

export const FIGURES_FILE = 'journald.json';
/** The sink rewrites the file at most this often. */
export const PUBLISH_MS = 5000;

export interface GuestFigures {
  domain: string;
  /** Over the last whole interval. */
  seenLinesPerSecond: number;
  seenBytesPerSecond: number;
  sentBytesPerSecond: number;
  leftLastInterval: { lines: number; bytes: number };
  leftTotal: { lines: number; bytes: number };
  /** The guest printed more than the bound let through in the last whole interval. */
  aboveBound: boolean;
  lastLineAt: number | null;
}

export interface JournaldFigures {
  v: 1;
  pid: number;
  /** ms since the epoch. */
  updatedAt: number;
  /** Why lines do not reach the journal at all (no journald on this host, ...), or null. */
  problem: string | null;
  bound: RateBound;
  guests: Record<string, GuestFigures>;
}

export function guestFigures(domain: string, g: GuestRate, lastLineAt: number | null): GuestFigures {
  const l = g.last;
  const secs = l ? (l.end - l.start) / 1000 : 0;
  const per = (n: number) => (secs > 0 ? Math.round(n / secs) : 0);
  return {
    domain,
    seenLinesPerSecond: l ? per(l.seenLines) : 0,
    seenBytesPerSecond: l ? per(l.seenBytes) : 0,
    sentBytesPerSecond: l ? per(l.sentBytes) : 0,
    leftLastInterval: { lines: l?.leftLines ?? 0, bytes: l?.leftBytes ?? 0 },
    leftTotal: { ...g.totalLeft },
    aboveBound: (l?.leftLines ?? 0) > 0,
    lastLineAt,
  };
}

/** Figures count as current while their writer runs, or for a few publish periods after. */
export function figuresCurrent(f: JournaldFigures, now: number, writerAlive: boolean): boolean {
  return writerAlive && now - f.updatedAt < 6 * PUBLISH_MS;
}

/** Parses the file's text; undefined for anything that is not our figures. */
export function parseFigures(text: string): JournaldFigures | undefined {
  try {
    const f = JSON.parse(text) as Partial<JournaldFigures>;
    if (f.v !== 1 || typeof f.updatedAt !== 'number' || typeof f.guests !== 'object' || !f.guests || !f.bound)
      return undefined;
    return f as JournaldFigures;
  } catch {
    return undefined;
  }
}

const rate = (bytesPerSecond: number) =>
  bytesPerSecond >= 1024 ? `${(bytesPerSecond / 1024).toFixed(1)} KiB/s` : `${bytesPerSecond} B/s`;

/** status's line for one domain, or undefined when the sink has not seen it. */
export function describeGuest(f: JournaldFigures, uuid: string, current: boolean): string | undefined {
  const g = f.guests[uuid];
  if (!g) return undefined;
  const parts: string[] = [];
  if (f.problem) parts.push(`not forwarded: ${f.problem}`);
  else
    parts.push(`${rate(g.sentBytesPerSecond)} to the journal (guest prints ${rate(g.seenBytesPerSecond)})`);
  if (g.leftLastInterval.lines)
    parts.push(`${g.leftLastInterval.lines} lines held back in the last ${f.bound.intervalMs / 1000} s`);
  if (g.leftTotal.lines) parts.push(`${g.leftTotal.lines} lines held back since the service started`);
  const when = current
    ? ''
    : ` (figures of ${new Date(f.updatedAt).toISOString()}; the capture service is not running)`;
  return parts.join(', ') + when;
}

/** The doctor's verdict on journald forwarding (same shape as src/doctor/checks.ts's Check). */
export interface JournaldCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  message: string;
  fix?: string;
}

export function journaldCheck(input: {
  forward: boolean;
  configPath: string;
  figures: JournaldFigures | undefined;
  current: boolean;
}): JournaldCheck {
  const name = 'journald';
  const f = input.figures;
  if (!input.forward)
    return { name, status: 'skip', message: 'forwarding to the journal is off (journald_forward = 0)' };
  if (!f || !input.current)
    return { name, status: 'skip', message: 'no running capture service has published journal figures' };
  if (f.problem)
    return {
      name,
      status: 'warn',
      message: `guest lines do not reach the journal: ${f.problem}`,
      fix: `start systemd-journald, or set journald_forward = 0 in ${input.configPath}`,
    };
  const above = Object.entries(f.guests).filter(([, g]) => g.aboveBound);
  if (above.length)
    return {
      name,
      status: 'warn',
      message:
        `guests above the journal bound of ${f.bound.rateLines} lines/s: ` +
        above
          .map(
            ([uuid, g]) =>
              `${g.domain} (${uuid}) prints ${g.seenLinesPerSecond} lines/s, ${g.leftLastInterval.lines} lines held back in the last ${f.bound.intervalMs / 1000} s`,
          )
          .join('; ') +
        ' (the store has every line)',
      fix: `look at what the guest prints (virt-consolelog show -f ${above[0]?.[1].domain ?? 'DOMAIN'}), or raise journald_rate_lines in ${input.configPath}`,
    };
  return {
    name,
    status: 'ok',
    message: `${Object.keys(f.guests).length} guests forwarded, none above ${f.bound.rateLines} lines/s`,
  };
}
