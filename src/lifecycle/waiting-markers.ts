// The hooks' side of markers written while the store was unusable (src/store/unrecorded-markers.ts).
import type { HookContext } from './context.js';
import { forgetUnrecordedMarkers } from '../store/unrecorded-markers.js';

/** Drops the waiting marker ids domain.json now holds (a failure only means they are merged again). */
export function forgetMarkers(ctx: HookContext, uuid: string, taken: string[]): void {
  if (!taken.length) return;
  try {
    forgetUnrecordedMarkers(ctx.config, uuid, taken);
    ctx.note(`recorded ${taken.length} boot marker(s) written while the store was unavailable`);
  } catch (e) {
    ctx.report(`boot markers recorded, but their waiting list stays: ${(e as Error).message}`);
  }
}
