// Reader chains, the adapter: reads the store's earlier history, lists the files beside the log,
// carries out planChain's unlinks and its one write (temp file, fsync, link without replacing,
// O_NOFOLLOW everywhere, only in the folder the log path names), and records the file written in
// sealed.json (fully sealed: seals and readers skip it) and in chain.json (the plugin wrote it).
import * as fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { hostState } from '../store/domain-state.js';
import { readAt, identity, openParentSafely } from '../store/files.js';
import { withStore, type LockedStore } from '../store/session.js';
import type { SafeDir } from '../store/safe-fs.js';
import { openDomainDir } from '../store/store.js';
import { CHAIN_STATE_FILE, isOurs, parseChainState, type ChainRecord } from '../store/chain-files.js';
import {
  advance,
  findTracked,
  headHash,
  HEAD_BYTES,
  unsealedStart,
  upsertTracked,
} from '../store/watermarks.js';
import { VIRTLOGD_CONF } from '../store/retention.js';
import { openHistory, streamRange } from '../history/reader.js';
import { endOf, startOf, tailBytesStart, type Position } from '../history/merge.js';
import { chainNames, planChain, type ChainEntry, type ChainPlan } from './plan.js';
import type { ChainTarget } from './targets.js';

const C = fs.constants;

export { CHAIN_STATE_FILE, isOurs, parseChainState, type ChainRecord } from '../store/chain-files.js';

export function readChainState(config: Config, uuid: string): ChainRecord[] {
  const dir = openDomainDir(config, uuid);
  if (!dir) return [];
  try {
    return parseChainState(dir.readText(CHAIN_STATE_FILE));
  } catch {
    return [];
  } finally {
    dir.close();
  }
}

/** virtlogd's max_backups (virtlogd.conf; its default 3). */
export function maxBackupsOf(confText: string | undefined): number {
  const m = /^\s*max_backups\s*=\s*(\d+)\s*(#.*)?$/m.exec(confText ?? '');
  return m ? Number(m[1]) : 3;
}

function readVirtlogdConf(): string | undefined {
  try {
    return fs.readFileSync(process.env.VIRT_CONSOLELOG_VIRTLOGD_CONF || VIRTLOGD_CONF, 'utf8');
  } catch {
    return undefined;
  }
}

/** The log and its chain files as planChain sees them (lstat only: symlinks are never files here). */
function listEntries(
  store: LockedStore,
  dir: SafeDir,
  base: string,
  records: readonly ChainRecord[],
): ChainEntry[] {
  const host = store.config.hostName;
  const names = [base, ...chainNames(base, dir.list()).map((n) => n.name)];
  const out: ChainEntry[] = [];
  for (const name of names) {
    const st = dir.lstat(name);
    if (!st) continue;
    if (!st.isFile()) {
      // Something else under a chain name: treated as unsealed content, so nothing is removed.
      out.push({
        name,
        index: name === base ? undefined : Number(name.slice(base.length + 1)),
        size: 0,
        sealed: false,
        ours: false,
      });
      continue;
    }
    const id = identity(st);
    const tracked = findTracked(store.seal, id, host);
    let sealed = false;
    if (tracked) {
      let fd: number | undefined;
      try {
        fd = dir.open(name, C.O_RDONLY | C.O_NONBLOCK);
        const f = fd;
        sealed = unsealedStart(tracked, id, (len) => headHash(readAt(f, len, 0))).start >= st.size;
      } catch {
        sealed = false;
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
    }
    out.push({
      name,
      index: name === base ? undefined : Number(name.slice(base.length + 1)),
      size: st.size,
      sealed,
      ours: isOurs(records, st, host),
    });
  }
  return out;
}

/** Raw history bytes [tail(n) before `to`, `to`) of one device, as `show -c` prints them. */
async function historyBefore(
  config: Config,
  uuid: string,
  device: string,
  n: number,
  /** Raw bytes at the end of the history to leave out (what the reader already sees in live files). */
  exclude: (pieces: Awaited<ReturnType<typeof openHistory>>) => number,
): Promise<Buffer> {
  if (n <= 0) return Buffer.alloc(0);
  const h = await openHistory(config, uuid, device);
  try {
    if (h.device !== device || !h.pieces.length) return Buffer.alloc(0);
    const start = startOf(h.pieces);
    const end = endOf(h.pieces);
    const skip = exclude(h);
    const to: Position = skip > 0 ? tailBytesStart(h.pieces, skip, start, end) : end;
    const from = tailBytesStart(h.pieces, n, start, to);
    const parts: Buffer[] = [];
    for await (const e of streamRange(h, from, to, true))
      if (e.type === 'data') parts.push(Buffer.from(e.data));
    return Buffer.concat(parts);
  } finally {
    h.close();
  }
}

/** Files of the log's folder a reader walks now that virtlogd wrote (the log, its own backups). */
function visibleOwnFiles(config: Config, path: string, records: readonly ChainRecord[]): Map<string, number> {
  const opened = openParentSafely(config, path);
  const out = new Map<string, number>();
  if (!('dir' in opened)) return out;
  try {
    const base = opened.dir.lstat(opened.name);
    if (!base?.isFile()) return out;
    out.set(`${base.dev}:${base.ino}`, base.size);
    for (let i = 0; ; i++) {
      const st = opened.dir.lstat(`${opened.name}.${i}`);
      if (!st?.isFile() || isOurs(records, st, config.hostName)) break;
      out.set(`${st.dev}:${st.ino}`, st.size);
    }
  } finally {
    opened.dir.close();
  }
  return out;
}

export interface ChainOutcome {
  device: string;
  path: string;
  mode: ChainTarget['mode'];
  plan?: ChainPlan;
  written?: { name: string; bytes: number };
  removed: string[];
  skipped?: string;
}

/** Lays out one target's chain; never throws for what the file system refuses (reported in skipped). */
export async function layoutChain(
  config: Config,
  uuid: string,
  target: ChainTarget,
  now = new Date(),
): Promise<ChainOutcome> {
  const outcome: ChainOutcome = { device: target.device, path: target.path, mode: target.mode, removed: [] };
  const records = readChainState(config, uuid);
  // A copy of history must not crowd the archive out: at most a quarter of the domain's cap.
  const budget =
    config.domainCapBytes > 0
      ? Math.min(config.chainBytes, Math.floor(config.domainCapBytes / 4))
      : config.chainBytes;
  let content: Buffer = Buffer.alloc(0);
  if (target.mode === 'arrival') {
    const own = visibleOwnFiles(config, target.path, records);
    if (!own.size) return { ...outcome, skipped: 'no live log here yet' };
    content = await historyBefore(config, uuid, target.device, budget, (h) => {
      // What the live files hold: the unsealed tail in the snapshot, or the whole file once sealed.
      let n = 0;
      for (const [key, size] of own) {
        const p = h.pieces.find((x) => x.source.kind === 'live' && `${x.source.dev}:${x.source.ino}` === key);
        n += p ? p.end - p.boots.reduce((m, b) => m + b.markerBytes, 0) : size;
      }
      return n;
    });
  }
  const maxBackups = maxBackupsOf(readVirtlogdConf());
  return withStore(config, uuid, (store) => {
    const opened = openParentSafely(config, target.path);
    if (!('dir' in opened))
      return { ...outcome, skipped: 'refused' in opened ? opened.refused : 'no folder' };
    const { dir, name: base } = opened;
    try {
      if (hostState(store.domain, config.hostName).devices[target.device]?.path !== target.path)
        return { ...outcome, skipped: 'the device logs elsewhere now' };
      const entries = listEntries(store, dir, base, records);
      const plan = planChain({ mode: target.mode, base, entries, contentBytes: content.length, maxBackups });
      outcome.plan = plan;
      if (plan.skip) return { ...outcome, skipped: plan.skip };
      const tmp = plan.write ? writeTemp(dir, base, content, config.logFileMode) : undefined;
      try {
        for (const n of plan.unlink) if (dir.unlink(n)) outcome.removed.push(n);
        if (plan.write && tmp) {
          try {
            // link(2) never replaces: a name virtlogd created meanwhile wins and ours is dropped.
            fs.linkSync(dir.entry(tmp), dir.entry(plan.write));
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
            outcome.skipped = `${plan.write} appeared meanwhile: chain not written`;
            return outcome;
          }
          const st = dir.lstat(plan.write);
          if (st?.isFile()) {
            recordWritten(store, dir, plan.write, target.device, st, content, now);
            outcome.written = { name: plan.write, bytes: content.length };
          }
        }
      } finally {
        if (tmp) dir.unlink(tmp);
        dir.fsync();
      }
      pruneRecords(store, dir, base);
      return outcome;
    } finally {
      dir.close();
    }
  });
}

function writeTemp(dir: SafeDir, base: string, content: Buffer, mode: number): string {
  const tmp = dir.tempName(base);
  const fd = dir.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL, mode);
  try {
    let w = 0;
    while (w < content.length) w += fs.writeSync(fd, content, w, content.length - w);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    dir.unlink(tmp);
    throw e;
  }
  fs.closeSync(fd);
  return tmp;
}

/** The written file is history already in the store: sealed to its end, and ours. */
function recordWritten(
  store: LockedStore,
  dir: SafeDir,
  name: string,
  device: string,
  st: fs.Stats,
  content: Buffer,
  now: Date,
): void {
  const host = store.config.hostName;
  store.seal = upsertTracked(
    store.seal,
    advance(
      {
        host,
        device,
        path: dir.display(name),
        id: identity(st),
        offset: st.size,
        head: content.subarray(0, HEAD_BYTES),
        now,
        // Like every file in an instance folder: a later file reusing this inode replaces the entry.
        local: false,
      },
      false,
    ),
  );
  const records = parseChainState(store.dir.readText(CHAIN_STATE_FILE)).filter(
    (r) => !(r.dev === st.dev && r.ino === st.ino && r.host === host),
  );
  records.push({
    host,
    path: dir.display(name),
    dev: st.dev,
    ino: st.ino,
    birthtimeMs: Math.floor(st.birthtimeMs),
    size: st.size,
    at: now.toISOString(),
    device,
    head: headHash(content.subarray(0, Math.min(st.size, HEAD_BYTES))),
    headLen: Math.min(st.size, HEAD_BYTES, content.length),
  });
  writeChainState(store, records);
}

function writeChainState(store: LockedStore, records: readonly ChainRecord[]): void {
  store.dir.writeAtomic(
    CHAIN_STATE_FILE,
    JSON.stringify({ version: 1, files: records }, null, 1) + '\n',
    store.config.logFileMode,
  );
}

/** Forgets this host's records of chain files gone from the folder (virtlogd rolled them out). */
function pruneRecords(store: LockedStore, dir: SafeDir, base: string): void {
  const host = store.config.hostName;
  const all = parseChainState(store.dir.readText(CHAIN_STATE_FILE));
  const folder = dir.display(base).slice(0, -base.length);
  const present = new Set<string>();
  for (const n of [base, ...chainNames(base, dir.list()).map((x) => x.name)]) {
    const st = dir.lstat(n);
    if (st) present.add(`${st.dev}:${st.ino}`);
  }
  const kept = all.filter(
    (r) => r.host !== host || !r.path.startsWith(folder) || present.has(`${r.dev}:${r.ino}`),
  );
  if (kept.length !== all.length) writeChainState(store, kept);
}
