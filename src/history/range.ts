// Selecting and streaming a window of history: the range the options ask for (boot, time, -n, -c),
// then its bytes with boot events at the boundaries.
import type { BootMark } from '../store/markers.js';
import { pieceBytes } from './content.js';
import {
  bootsInWindow,
  comparePos,
  endOf,
  pickBoot,
  startOf,
  tailBytesStart,
  type Boot,
  type Piece,
  type Position,
} from './merge.js';
import { tailLinesStart } from './tail.js';
import { HistoryError, type BootInfo, type History, type HistoryEvent, type ReadOptions } from './types.js';

function bootInfo(b: Boot): BootInfo {
  return { index: b.index, id: b.id, host: b.host, at: b.at, implicit: b.implicit };
}

/**
 * Streams [from, to) oldest first: data, and boot events at boundaries (raw: data only, marker
 * lines left out). The boot the range starts in is announced first.
 */
export async function* streamRange(
  h: History,
  from: Position,
  to: Position,
  raw: boolean,
): AsyncGenerator<HistoryEvent> {
  if (comparePos(from, to) >= 0) return;
  if (!raw) {
    const current = [...h.boots].reverse().find((b) => comparePos(b.from, from) <= 0);
    const startsAtBoundary = h.boots.some((b) => comparePos(b.from, from) === 0 && !b.implicit);
    if (current && !startsAtBoundary) yield { type: 'boot', boot: bootInfo(current) };
  }
  for (let i = from.piece; i <= to.piece && i < h.pieces.length; i++) {
    const p = h.pieces[i] as Piece;
    const a = i === from.piece ? from.offset : p.start;
    const b = i === to.piece ? to.offset : p.end;
    if (b <= a && !p.boots.some((m) => m.offset === a)) continue;
    const cuts = p.boots.filter((m) => m.offset >= a && m.offset < b).sort((x, y) => x.offset - y.offset);
    let pos = a;
    let cut = 0;
    let skipUntil = -1;
    const emitBoot = function* (m: BootMark): Generator<HistoryEvent> {
      if (raw) return;
      const boot = h.boots.find((x) => x.from.piece === i && x.from.offset === m.offset && x.id === m.id);
      yield {
        type: 'boot',
        boot: boot ? bootInfo(boot) : { index: 0, id: m.id, host: m.host, at: m.at, implicit: false },
      };
    };
    while (cut < cuts.length && (cuts[cut] as BootMark).offset === pos) {
      const m = cuts[cut++] as BootMark;
      yield* emitBoot(m);
      skipUntil = m.offset + m.markerBytes;
    }
    for await (const chunk of pieceBytes(h, p, a, b)) {
      let c = chunk;
      while (c.length) {
        if (pos < skipUntil) {
          const n = Math.min(skipUntil - pos, c.length);
          c = c.subarray(n);
          pos += n;
          continue;
        }
        const next = cuts[cut];
        const upTo = next ? Math.min(c.length, next.offset - pos) : c.length;
        if (upTo > 0) {
          yield {
            type: 'data',
            data: c.subarray(0, upTo),
            host: p.host,
            device: p.device,
            piece: i,
            offset: pos,
          };
          c = c.subarray(upTo);
          pos += upTo;
        }
        while (cut < cuts.length && (cuts[cut] as BootMark).offset === pos) {
          const m = cuts[cut++] as BootMark;
          yield* emitBoot(m);
          skipUntil = m.offset + m.markerBytes;
        }
      }
    }
  }
}

/** The window of history the options select, and whether output is raw. */
export async function selectRange(
  h: History,
  o: ReadOptions,
): Promise<{ from: Position; to: Position; raw: boolean }> {
  let from = startOf(h.pieces);
  let to = endOf(h.pieces);
  if (o.boot !== undefined) {
    const b = pickBoot(h.boots, o.boot);
    if (!b)
      throw new HistoryError(
        `no boot ${JSON.stringify(o.boot)} (${h.boots.length} boots; see --list-boots)`,
        'no-boot',
      );
    from = b.from;
    to = b.to;
  }
  if (o.since || o.until) {
    const inWin = bootsInWindow(h.boots, o.since, o.until).filter(
      (b) => comparePos(b.from, to) < 0 && comparePos(b.to, from) > 0,
    );
    if (!inWin.length) return { from: to, to, raw: o.bytes !== undefined };
    const first = inWin[0] as Boot;
    const last = inWin[inWin.length - 1] as Boot;
    if (comparePos(first.from, from) > 0) from = first.from;
    if (comparePos(last.to, to) < 0) to = last.to;
  }
  if (o.bytes !== undefined) return { from: tailBytesStart(h.pieces, o.bytes, from, to), to, raw: true };
  if (o.lines !== undefined) from = await tailLinesStart(h, o.lines, from, to);
  return { from, to, raw: false };
}
