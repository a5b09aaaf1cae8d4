// Shared by the store lab tests.

/**
 * A destroyed guest may be cut in the middle of a line: the torn last line of a boot (right before
 * the next boot's separator) is output that was really printed, not a checker failure.
 */
export function dropTornLinesBeforeSeparators(text: string): { text: string; torn: string[] } {
  const lines = text.split('\n');
  const torn: string[] = [];
  const kept = lines.filter((l, i) => {
    const next = lines[i + 1];
    const isTorn =
      next?.startsWith('-- Boot ') && l.includes('seq=') && !/^seq=\d+ boot=[0-9a-f]{8}\r?$/.test(l);
    if (isTorn) torn.push(l);
    return !isTorn;
  });
  return { text: kept.join('\n'), torn };
}
