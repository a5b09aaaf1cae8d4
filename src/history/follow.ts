// Follow mode (-f): this host's live file of the device, through virtlogd's rotation and in-place
// truncation by a new boot, with boot markers split from the guest's bytes as they arrive.
import * as fs from 'node:fs';
import type { DeviceState } from '../store/domain-state.js';
import { parseDomainState } from '../store/domain-state.js';
import { DOMAIN_STATE_FILE } from '../store/layout.js';
import { mayBeMarkerStart, parseMarkerLine } from '../store/markers.js';
import { openLiveParent, openLiveRotationSet, readAt } from '../store/files.js';
import { CHAIN_STATE_FILE, isOurs, parseChainState, type ChainRecord } from '../store/chain-files.js';
import { openDomainDir } from '../store/store.js';
import { CHUNK, type History, type HistoryEvent, type ReadOptions } from './types.js';

// The abort listener goes with each sleep: one left per poll piled up (MaxListenersExceededWarning).
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => (clearTimeout(t), resolve());
    const t = setTimeout(() => (signal?.removeEventListener('abort', onAbort), resolve()), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Output rate (bytes per ms, 64 KiB/s) above which a followed guest counts as printing fast. */
const FAST_GUEST_BYTES_PER_MS = 64;

/**
 * Follows this host's live file of the device: new bytes; virtlogd rotation (the file we hold is
 * drained, then each newer file of the rotation set in turn, so a fast guest loses nothing while
 * virtlogd keeps the files); in-place truncation by a new boot (read from 0); boot markers in-band.
 */
export async function* followLive(h: History, raw: boolean, o: ReadOptions): AsyncGenerator<HistoryEvent> {
  const { config } = h;
  const poll = o.followPollMs ?? 250;
  // A guest printing fast fills virtlogd's few files in well under a second: poll it often, so no
  // file of the rotation set is deleted before we opened it.
  const fastPoll = Math.min(poll, 25);
  let drained = 0;
  let since = Date.now();
  let cur: { fd: number; dev: number; ino: number; pos: number; own: boolean } | undefined;
  const ff = h.followFrom;
  const ffd = ff && h.fds.get(`${ff.dev}:${ff.ino}`);
  if (ff && ffd !== undefined) cur = { fd: ffd, dev: ff.dev, ino: ff.ino, pos: ff.size, own: false };
  let filter = new MarkerFilter();
  let lastBoot = h.boots.at(-1)?.id;
  const emit = function* (events: FilterEvent[]): Generator<HistoryEvent> {
    for (const e of events) {
      if (e.type === 'boot') {
        lastBoot = e.boot.id;
        if (!raw) yield { type: 'boot', boot: { index: 0, ...e.boot, implicit: false } };
      } else yield { type: 'data', data: e.data, host: config.hostName, device: h.device };
    }
  };
  const drain = function* (c: NonNullable<typeof cur>): Generator<HistoryEvent> {
    const size = fs.fstatSync(c.fd).size;
    while (c.pos < size) {
      const chunk = readAt(c.fd, Math.min(CHUNK, size - c.pos), c.pos);
      if (!chunk.length) break;
      c.pos += chunk.length;
      drained += chunk.length;
      yield* emit(filter.feed(chunk));
    }
  };
  while (!o.signal?.aborted) {
    let d: DeviceState | undefined;
    let chainFiles: ChainRecord[] = [];
    try {
      const dir = openDomainDir(config, h.uuid);
      if (dir) {
        try {
          d = parseDomainState(h.uuid, dir.readText(DOMAIN_STATE_FILE)).hosts[config.hostName]?.devices[
            h.device
          ];
          chainFiles = parseChainState(dir.readText(CHAIN_STATE_FILE));
        } finally {
          dir.close();
        }
      }
    } catch {
      d = undefined;
    }
    let files: { file: string; fd: number; st: fs.Stats }[] = [];
    let baseName = '';
    if (d) {
      const opened = openLiveParent(config, d.path);
      if ('dir' in opened) {
        try {
          // A reader-chain file the plugin wrote holds earlier history, not output to follow.
          files = openLiveRotationSet(opened.dir, opened.name).files.filter((f) => {
            if (!isOurs(chainFiles, f.st, config.hostName)) return true;
            fs.closeSync(f.fd);
            return false;
          });
          baseName = opened.name;
        } finally {
          opened.dir.close();
        }
      }
    }
    let next: (typeof files)[number] | undefined;
    if (cur) {
      const st = fs.fstatSync(cur.fd);
      const base = files.find((f) => f.file === baseName);
      // A truncating source (file serial) restarted: rewritten from 0 once the new boot wrote to it.
      const restarted =
        d?.truncating &&
        d.boot &&
        d.boot.id !== lastBoot &&
        st.mtimeMs >= Date.parse(d.boot.at) &&
        base?.st.ino === cur.ino;
      if (st.size < cur.pos || restarted) {
        cur.pos = 0;
        filter = new MarkerFilter();
        if (d?.boot && d.boot.id !== lastBoot) yield* emit([{ type: 'boot', boot: d.boot }]);
      }
      yield* drain(cur);
      const c = cur;
      const idx = files.findIndex((f) => f.st.ino === c.ino && f.st.dev === c.dev);
      // A truncating start replaced the log (a new boot): what is left beside it is earlier history.
      const replaced = d?.truncating && d.boot && d.boot.id !== lastBoot && base && base.st.ino !== c.ino;
      // The next newer file: after ours in the set, or the oldest kept if ours was deleted already.
      if (idx >= 0 && idx < files.length - 1) next = files[idx + 1];
      else if (idx < 0 && replaced) next = base;
      else if (idx < 0 && files.length) next = files[0];
    } else {
      next = files.find((f) => f.file === baseName);
    }
    for (const f of files) if (f !== next) fs.closeSync(f.fd);
    if (next) {
      if (cur?.own) fs.closeSync(cur.fd);
      yield* emit(filter.flush());
      filter = new MarkerFilter();
      cur = { fd: next.fd, dev: next.st.dev, ino: next.st.ino, pos: 0, own: true };
      continue; // read the newer file at once
    }
    yield* emit(filter.flushIfStale());
    // The rate over the last round, its sleep included.
    const now = Date.now();
    const fast = drained / Math.max(1, now - since) >= FAST_GUEST_BYTES_PER_MS;
    drained = 0;
    since = now;
    await sleep(fast ? fastPoll : poll, o.signal);
  }
  if (cur) yield* drain(cur);
  yield* emit(filter.flush());
  if (cur?.own) fs.closeSync(cur.fd);
}

type FilterEvent =
  { type: 'data'; data: Buffer } | { type: 'boot'; boot: { id: string; host: string; at: string } };

/**
 * Splits a live byte stream into guest data and boot markers. Only a line start that may still
 * become a marker is held back (briefly), so a prompt without a newline is printed at once.
 */
class MarkerFilter {
  private held = Buffer.alloc(0);
  private atLineStart = true;
  private heldPolls = 0;

  feed(chunk: Buffer): FilterEvent[] {
    const out: FilterEvent[] = [];
    let buf = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    this.heldPolls = 0;
    while (buf.length) {
      if (this.atLineStart) {
        const nl = buf.indexOf(10);
        const line = nl >= 0 ? buf.subarray(0, nl + 1) : buf;
        if (nl < 0) {
          if (mayBeMarkerStart(line)) {
            this.held = Buffer.from(line);
            return out;
          }
        } else {
          const m = parseMarkerLine(line);
          if (m) {
            out.push({ type: 'boot', boot: m });
            buf = buf.subarray(nl + 1);
            continue;
          }
        }
      }
      const nl = buf.indexOf(10);
      const part = nl >= 0 ? buf.subarray(0, nl + 1) : buf;
      out.push({ type: 'data', data: Buffer.from(part) });
      this.atLineStart = nl >= 0;
      buf = buf.subarray(part.length);
    }
    return out;
  }

  /** A held partial line that did not grow for a few polls is guest output after all. */
  flushIfStale(): FilterEvent[] {
    if (!this.held.length || ++this.heldPolls < 4) return [];
    return this.flush();
  }

  flush(): FilterEvent[] {
    if (!this.held.length) return [];
    const data = this.held;
    this.held = Buffer.alloc(0);
    this.atLineStart = false;
    return [{ type: 'data', data }];
  }
}
