// show's per-line time output (issue 17): -o short-iso / short-iso-precise, --json with "time",
// and --since/--until that select lines. The lines and their times come from capture/line-times.ts.
import type { CliContext } from '../command.js';
import type { TimedEvent } from '../../capture/line-times.js';
import type { BootInfo } from '../../history/reader.js';

export const OUTPUT_MODES = ['short', 'short-iso', 'short-iso-precise'] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** journalctl's short-iso stamp in local time (`2026-12-03T23:12:22+0000`); precise adds milliseconds. */
export function isoStamp(ms: number, precise: boolean): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    (precise ? `.${pad(d.getMilliseconds(), 3)}` : '') +
    `${sign}${pad(Math.floor(a / 60))}${pad(a % 60)}`
  );
}

function write(ctx: CliContext, data: string | Buffer): Promise<void> {
  return new Promise((resolve) => void ctx.io.stdout.write(data, () => resolve()));
}

/**
 * Prints timed lines: text with a stamp before each line (a coarse time, from a seal rather than the
 * capture service, is prefixed `~`), or JSON lines with `time` (ms) and `coarse`.
 */
export async function printTimed(
  ctx: CliContext,
  events: AsyncIterable<TimedEvent>,
  mode: OutputMode,
  json: boolean,
  separator: (b: BootInfo) => string,
): Promise<void> {
  let boot: string | null = null;
  let atLineStart = true;
  for await (const e of events) {
    if (e.type === 'boot') {
      boot = e.boot.id;
      if (json) await write(ctx, JSON.stringify({ type: 'boot', ...e.boot }) + '\n');
      else await write(ctx, (atLineStart ? '' : '\n') + separator(e.boot));
      atLineStart = true;
      continue;
    }
    if (json) {
      const text = e.data.toString('utf8').replace(/\r?\n$/, '');
      await write(
        ctx,
        JSON.stringify({
          type: 'line',
          boot,
          host: e.host,
          device: e.device,
          time: e.time,
          coarse: e.coarse,
          text,
        }) + '\n',
      );
      continue;
    }
    if (mode !== 'short')
      await write(ctx, `${e.coarse ? '~' : ''}${isoStamp(e.time, mode === 'short-iso-precise')} `);
    await write(ctx, e.data);
    atLineStart = e.data[e.data.length - 1] === 10;
  }
}
