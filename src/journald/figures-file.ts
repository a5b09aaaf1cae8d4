// <state_dir>/journald.json: the journald sink's figures, written whole (temporary file + rename) so
// that `status` and `doctor` never read half a file.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { pidAlive } from '../util/pid.js';
import { FIGURES_FILE, figuresCurrent, parseFigures, type JournaldFigures } from './figures.js';

export function figuresPath(stateDir: string): string {
  return posix.join(stateDir, FIGURES_FILE);
}

export function writeFigures(stateDir: string, figures: JournaldFigures): void {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o750 });
  const path = figuresPath(stateDir);
  const tmp = `${path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(figures) + '\n', { mode: 0o640 });
  fs.renameSync(tmp, path);
}

/** The published figures and whether they are current (their writer still runs); undefined when none. */
export function readFigures(
  stateDir: string,
  now = Date.now(),
): { figures: JournaldFigures; current: boolean } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(figuresPath(stateDir), 'utf8');
  } catch {
    return undefined;
  }
  const figures = parseFigures(text);
  if (!figures) return undefined;
  return { figures, current: figuresCurrent(figures, now, pidAlive(figures.pid)) };
}
