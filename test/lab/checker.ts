// Completeness checker for the sequence guest's output (pure: text in, report out).
//
//   const r = checkHistory(text);      // text = a merged history (show output, a serial file, ...)
//   r.boots[i] = { boot, first, last, count, distinct, missing, gaps, duplicates, reorderings, ... }
//   r.ok        // every boot starts at 0 and has no gap, duplicate or reordering, boots not interleaved
//   summarise(r) // a few human lines
//
// A sequence line is exactly `seq=<digits> boot=<8 hex>` (a trailing \r is allowed). Lines that
// contain `seq=` but are not exactly that are "malformed" (torn or interleaved writes). Every other
// line (boot markers, separators, BIOS noise) is counted in `otherLines` and otherwise ignored. A
// last line without a newline is the line being written right now: `partialTail`, not malformed.

export const SEQ_LINE = /^seq=(\d+) boot=([0-9a-f]{8})\r?$/;

export interface SeqLine {
  seq: number;
  boot: string;
}

export function parseSeqLine(line: string): SeqLine | undefined {
  const m = SEQ_LINE.exec(line);
  return m ? { seq: Number(m[1]), boot: m[2]! } : undefined;
}

export interface Range {
  from: number;
  to: number;
}

export interface BootReport {
  boot: string;
  /** Smallest and largest counter seen; `first` > 0 means the start of this boot is missing. */
  first: number;
  last: number;
  /** Sequence lines seen for this boot (duplicates included). */
  count: number;
  /** Distinct counter values seen. */
  distinct: number;
  /** Counter values between 0 and `last` that never appeared (0..first-1 included). */
  missing: number;
  /** Missing ranges, inclusive, in order (the head 0..first-1 included when first > 0). */
  gaps: Range[];
  /** Lines whose counter was already seen. */
  duplicates: number;
  /** Lines whose counter is below the largest seen before it, not counting duplicates. */
  reorderings: number;
  /** Index (0-based, over all lines of the text) of this boot's first and last line. */
  firstLine: number;
  lastLine: number;
  /** No gap (from 0), no duplicate, no reordering. */
  complete: boolean;
}

export interface HistoryReport {
  boots: BootReport[];
  /** Lines of the text (a final partial line not included). */
  lines: number;
  seqLines: number;
  otherLines: number;
  malformed: string[];
  partialTail: string;
  /** True when a boot's lines appear after a later boot began (boots mixed up). */
  interleaved: boolean;
  totals: {
    boots: number;
    seqLines: number;
    distinct: number;
    missing: number;
    duplicates: number;
    reorderings: number;
  };
  ok: boolean;
}

export function checkHistory(text: string): HistoryReport {
  const parts = text.split('\n');
  const partialTail = parts.pop() ?? '';
  const byBoot = new Map<string, { seqs: number[]; firstLine: number; lastLine: number }>();
  const order: string[] = [];
  const malformed: string[] = [];
  let otherLines = 0;
  let seqLines = 0;
  let interleaved = false;
  let current: string | undefined;
  parts.forEach((line, i) => {
    const s = parseSeqLine(line);
    if (!s) {
      if (line.includes('seq=')) malformed.push(line);
      else otherLines++;
      return;
    }
    seqLines++;
    let b = byBoot.get(s.boot);
    if (!b) {
      b = { seqs: [], firstLine: i, lastLine: i };
      byBoot.set(s.boot, b);
      order.push(s.boot);
    } else if (current !== s.boot) {
      interleaved = true; // went back to a boot after another one had lines in between
    }
    current = s.boot;
    b.seqs.push(s.seq);
    b.lastLine = i;
  });

  const boots = order.map((boot) => bootReport(boot, byBoot.get(boot)!));
  const totals = {
    boots: boots.length,
    seqLines,
    distinct: sum(boots.map((b) => b.distinct)),
    missing: sum(boots.map((b) => b.missing)),
    duplicates: sum(boots.map((b) => b.duplicates)),
    reorderings: sum(boots.map((b) => b.reorderings)),
  };
  return {
    boots,
    lines: parts.length,
    seqLines,
    otherLines,
    malformed,
    partialTail,
    interleaved,
    totals,
    ok: boots.length > 0 && boots.every((b) => b.complete) && !interleaved && malformed.length === 0,
  };
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function bootReport(boot: string, b: { seqs: number[]; firstLine: number; lastLine: number }): BootReport {
  const seen = new Set<number>();
  let duplicates = 0;
  let reorderings = 0;
  let max = -1;
  for (const s of b.seqs) {
    if (seen.has(s)) {
      duplicates++;
      continue;
    }
    seen.add(s);
    if (s < max) reorderings++;
    else max = s;
  }
  const sorted = [...seen].sort((x, y) => x - y);
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  const gaps: Range[] = [];
  if (first > 0) gaps.push({ from: 0, to: first - 1 });
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur > prev + 1) gaps.push({ from: prev + 1, to: cur - 1 });
  }
  const missing = sum(gaps.map((g) => g.to - g.from + 1));
  return {
    boot,
    first,
    last,
    count: b.seqs.length,
    distinct: sorted.length,
    missing,
    gaps,
    duplicates,
    reorderings,
    firstLine: b.firstLine,
    lastLine: b.lastLine,
    complete: missing === 0 && duplicates === 0 && reorderings === 0,
  };
}

function ranges(gs: Range[], max = 5): string {
  const shown = gs.slice(0, max).map((g) => (g.from === g.to ? `${g.from}` : `${g.from}-${g.to}`));
  return shown.join(',') + (gs.length > max ? `,... (${gs.length} ranges)` : '');
}

/** One line per boot plus a totals line. */
export function summarise(r: HistoryReport): string {
  const lines = r.boots.map(
    (b, i) =>
      `boot ${i + 1} ${b.boot}: seq ${b.first}..${b.last}, ${b.distinct} lines kept, ${b.missing} missing` +
      (b.gaps.length ? ` [${ranges(b.gaps)}]` : '') +
      `, ${b.duplicates} duplicated, ${b.reorderings} out of order`,
  );
  lines.push(
    `total: ${r.totals.boots} boots, ${r.totals.distinct} distinct lines, ${r.totals.missing} missing, ` +
      `${r.totals.duplicates} duplicated, ${r.totals.reorderings} out of order, ${r.malformed.length} malformed` +
      (r.interleaved ? ', boots interleaved' : '') +
      (r.ok ? ' => complete' : ' => NOT complete'),
  );
  return lines.join('\n');
}
