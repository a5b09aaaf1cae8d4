// Shared by the store lab tests.

/**
 * A destroyed guest may be cut in the middle of a line: the torn last line of a boot (right before
 * the next boot's separator) is output that was really printed, not a checker failure. So is the
 * very last line (`last`): a running guest may be in the middle of printing it, or the test's final
 * destroy cut it.
 */
export function dropTornLinesBeforeSeparators(text: string): {
  text: string;
  torn: string[];
  last?: string;
} {
  const lines = text.split('\n');
  const torn: string[] = [];
  let last: string | undefined;
  let lastLine = lines.length - 1;
  while (lastLine > 0 && !lines[lastLine]) lastLine--;
  const kept = lines.filter((l, i) => {
    const next = lines[i + 1];
    const cut =
      (next?.startsWith('-- Boot ') || i === lastLine) &&
      l.includes('seq=') &&
      !/^seq=\d+ boot=[0-9a-f]{8}\r?$/.test(l);
    if (cut && i === lastLine) last = l;
    else if (cut) torn.push(l);
    return !cut;
  });
  return { text: kept.join('\n'), torn, ...(last === undefined ? {} : { last }) };
}

/** A whole sequence line at the end of a line (after a torn fragment, or the line itself). */
const SEQ_LINE_AT_END = /seq=\d+ boot=([0-9a-f]{8})\r?$/;

/**
 * Lines where the guest's boot token changes with no `-- Boot` separator since the previous boot's
 * last line: a boot boundary the store lost. A torn fragment running into a whole line of another
 * boot (`seq=000seq=00011102 boot=...`) counts, under the whole line's boot; a fragment with no
 * whole line in it (`seq=000236\r`) carries no boot and is not looked at here.
 */
export function bootChangesWithoutSeparator(text: string): string[] {
  const out: string[] = [];
  let last: string | undefined;
  let separated = false;
  for (const l of text.split('\n')) {
    if (l.startsWith('-- Boot ')) {
      separated = true;
      continue;
    }
    const boot = SEQ_LINE_AT_END.exec(l)?.[1];
    if (!boot) continue;
    if (last !== undefined && boot !== last && !separated) out.push(l);
    last = boot;
    separated = false;
  }
  return out;
}
