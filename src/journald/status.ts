// What `status` and `doctor` say about journal forwarding, from the figures the sink publishes.
import type { Config } from '../config/schema.js';
import { describeGuest, journaldCheck, type GuestFigures, type JournaldCheck } from './figures.js';
import { readFigures } from './figures-file.js';

/** One domain's journal figures for `status` (undefined when no sink has seen the domain). */
export function journaldStatus(
  stateDir: string,
  uuid: string,
):
  | { current: boolean; updatedAt: string; problem: string | null; figures: GuestFigures; summary: string }
  | undefined {
  const r = readFigures(stateDir);
  const g = r?.figures.guests[uuid];
  if (!r || !g) return undefined;
  return {
    current: r.current,
    updatedAt: new Date(r.figures.updatedAt).toISOString(),
    problem: r.figures.problem,
    figures: g,
    summary: describeGuest(r.figures, uuid, r.current) ?? '',
  };
}

export function journaldDoctorCheck(config: Config, configPath: string): JournaldCheck {
  const r = readFigures(config.stateDir);
  return journaldCheck({
    forward: config.journaldForward,
    configPath,
    figures: r?.figures,
    current: r?.current ?? false,
  });
}
