// Reading a domain's history: snapshot the store without its lock (snapshot.ts), select the window
// the options ask for and stream it (range.ts, tail.ts, content.ts), then follow (follow.ts). The
// module the CLI and library users import: it re-exports the reader's public names.
import type { Config } from '../config/schema.js';
import { followLive } from './follow.js';
import { selectRange, streamRange } from './range.js';
import { readOpenHistory } from './snapshot.js';
import type { HistoryEvent, ReadOptions } from './types.js';

export { knownDevices, openHistory, readOpenHistory, resolveOne } from './snapshot.js';
export { storeStamp } from '../store/view.js';
export { selectRange, streamRange } from './range.js';
export { tailLinesStart } from './tail.js';
export { HistoryError, type BootInfo, type History, type HistoryEvent, type ReadOptions } from './types.js';

/**
 * The library form of `virt-consolelog show`: a domain's history (name or UUID) as events,
 * oldest first. With `follow`, keeps yielding new output until `signal` aborts.
 */
export async function* readHistory(
  config: Config,
  domain: string,
  o: ReadOptions = {},
): AsyncGenerator<HistoryEvent> {
  yield* readOpenHistory(config, domain, o.device, async function* (h) {
    const { from, to, raw } = await selectRange(h, o);
    yield* streamRange(h, from, to, raw);
    if (o.follow) {
      o.onLive?.();
      yield* followLive(h, raw, o);
    }
  });
}
