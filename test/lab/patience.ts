// Ceilings of the lab tests' waits, scaled to the machine: every wait ends as soon as its condition
// holds, so a generous ceiling costs a fast machine nothing and only bounds how long a real failure
// takes to show. The waits were written where `node -e 0` took ~22 ms; a CI machine may be 2-4x
// slower (issue 14: ~60 ms idle, over 500 ms with other lab runs beside it).
import { execFileSync } from 'node:child_process';

/** `node -e 0` on the machine the ceilings were written on. */
const REFERENCE_START_MS = 22;
/** Largest scale a measurement may give (a one-off spike must not make a hang wait for an hour). */
const MAX_FACTOR = 8;

function measuredStartMs(): number {
  const started = performance.now();
  try {
    execFileSync(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  } catch {
    return REFERENCE_START_MS;
  }
  return performance.now() - started;
}

/**
 * How many times the written ceilings are stretched: VCL_TEST_PATIENCE if set (a number >= 1),
 * else twice this machine's slowness against the reference, between 2 and MAX_FACTOR.
 */
export function patienceFactor(env: string | undefined, startMs: () => number): number {
  const set = Number(env);
  if (env !== undefined && env !== '' && Number.isFinite(set) && set >= 1) return set;
  return Math.min(MAX_FACTOR, Math.max(2, (2 * startMs()) / REFERENCE_START_MS));
}

let factor: number | undefined;

/** A wait's ceiling (ms) on this machine: `ms` as written, times the patience factor. */
export function patient(ms: number): number {
  factor ??= patienceFactor(process.env.VCL_TEST_PATIENCE, measuredStartMs);
  return Math.round(ms * factor);
}
