// The capture service (`virt-consolelog collect`): one process for all guests of this host. It
// watches every virtlogd log the store knows for this host (fs.watch, a poll as fallback), seals a
// device's files under the domain lock (the hooks' seal: same watermarks, nothing twice, no gap)
// before virtlogd's next rollover can delete them, writes arrival-time points, and hands every
// whole line it reads to the configured sinks. Decisions are in decide.ts and times.ts.
// Long: one Collector holds each device's files, seals, time points and line reading together.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { currentName, hostState, type DomainState } from '../store/domain-state.js';
import { listDomainUuids, readDomainStateOf } from '../store/find.js';
import { LockTimeoutError } from '../store/lock.js';
import { mayBeMarkerStart, parseBootMarker } from '../store/markers.js';
import { applyDomainRetention, VIRTLOGD_CONF } from '../store/retention.js';
import { applyGlobalCap } from './global-retention.js';
import { applyUndefinedRetention } from './undefined-retention.js';
import { listedDomains, uriFrom } from '../definitions/virsh.js';
import { CHAIN_STATE_FILE, parseChainState, withChainFilesSealed } from '../store/chain-files.js';
import { DOMAIN_STATE_FILE, SEAL_STATE_FILE } from '../store/layout.js';
import { SafeDir } from '../store/safe-fs.js';
import { openDomainDir } from '../store/store.js';
import { parseSealState } from '../store/watermarks.js';
import { sealDeviceMakingRoom } from '../store/seal.js';
import { withStore } from '../store/session.js';
import {
  decideLook,
  decideSeal,
  fastGrowth,
  fileKey,
  lostBytes,
  policyFor,
  virtlogdMaxSize,
  type CapturePolicy,
  type SeenFile,
} from './decide.js';
import type { CapturedLine, LineSink } from './sink.js';
import { pointDueAt, pointLine, timesFileName, type TimePoint } from './times.js';
import { captureStateDir, DOMAINS_CHANGED_FILE } from '../store/domains-changed.js';
import {
  writeCaptureStatus,
  type CaptureStatus,
  type DeviceStatus,
  type HookEventsStatus,
} from './status.js';

const C = fs.constants;

export interface CollectOptions {
  sinks?: LineSink[];
  /** Seal unsealed bytes at least this often (0 = only when a rollover nears; the default). */
  flushMs?: number;
  /** Full sweep of every device (the fallback when fs.watch misses or is unavailable). */
  pollMs?: number;
  /** Retention (caps, retention_days) runs this often; default hourly. */
  retentionMs?: number;
  /** virtlogd.conf text (max_size); default read from /etc/libvirt/virtlogd.conf. */
  virtlogdConf?: string;
  log?: (msg: string) => void;
  signal?: AbortSignal;
  /** Whether the process answers hook events, for the status file (the collect command knows). */
  hookEvents?: () => HookEventsStatus;
}

/** The key of a live file among the watched ones: its folder as watched and its name, joined without normalising. */
const watchKey = (dir: string, name: string): string => `${dir}\0${name}`;

/** A torn last line goes to the sinks whole after this long without its newline. */
const TORN_LINE_MS = 2000;
const TICK_MS = 50;
const DISCOVER_MS = 2000;
/** After a writer said a domain.json changed: discovery at once, but not more often than this. */
const DISCOVER_SOON_MS = 100;
const STATUS_MS = 2000;
const MAX_LINE = 64 * 1024;
/** Bytes read from one file per look (a backlog is read over the next ticks). */
const MAX_READ = 1024 * 1024;
/** Read descriptors held open across looks, in all (beyond them a read opens and closes its file). */
const MAX_HELD_FDS = 512;
/** One buffer for every read: lines are copied out of it. */
const SCRATCH = Buffer.allocUnsafe(64 * 1024);

interface FileTime {
  birth: number;
  last?: TimePoint;
  pending?: TimePoint;
}

interface Followed {
  uuid: string;
  device: string;
  domain: string;
  path: string;
  dirPath: string;
  base: string;
  boot: string | null;
  files: SeenFile[];
  /** fileKey -> offset sealed, as sealed.json said after this service's last seal. */
  sealed: Map<string, number>;
  lastSeal: number;
  sealing: boolean;
  /** Written since the last look (an inotify change event). */
  dirty: boolean;
  /** A name of its rotation set changed since the last look: list it again, at once. */
  renamed: boolean;
  /** The last look found at least fastGrowth bytes more: looked at on each write, not coalesced. */
  fast: boolean;
  lastLook: number;
  /** fileKey -> read descriptor of that file, held while it is in the set (MAX_HELD_FDS in all). */
  fds: Map<string, number>;
  /** Files seen at the first look are handed to sinks from their end, later ones from 0. */
  observed: boolean;
  times: Map<string, FileTime>;
  /** When the first of `times`' pending observations becomes a point (the tick skips the device until then). */
  pointsDueAt: number;
  /** fileKey -> offset the sinks have been given (lines) up to. */
  readTo: Map<string, number>;
  partial: Buffer[];
  partialSince: number;
  stats: { capturedBytes: number; lostBytes: number; seals: number; bytesSeen: number; since: number };
  error?: string;
}

export class Collector {
  private readonly followed = new Map<string, Followed>();
  /** Live file (watchKey of its folder and name) -> its device, for watch events. */
  private readonly byFile = new Map<string, Followed>();
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly timeFds = new Map<string, number>();
  private readonly sinks: LineSink[];
  private readonly policy: CapturePolicy;
  private readonly log: (msg: string) => void;
  private readonly started = Date.now();
  private watchBroken = false;
  private heldFds = 0;
  /** uuid -> domain.json as last read, with the stat it had then. */
  private readonly domainStates = new Map<string, { stamp: string; state: DomainState }>();
  private lastRetention = 0;
  private lastDiscover = 0;
  /** A writer of domain.json signalled a change (src/store/domains-changed.ts) since the last discovery. */
  private domainsChanged = false;
  private changeWatcher: fs.FSWatcher | undefined;
  private changeWatchTried = false;
  private lastStatus = 0;
  private lastSweep = 0;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly config: Config,
    private readonly opts: CollectOptions = {},
  ) {
    this.sinks = opts.sinks ?? [];
    this.log = opts.log ?? (() => undefined);
    let conf = opts.virtlogdConf;
    if (conf === undefined) {
      try {
        conf = fs.readFileSync(process.env.VIRT_CONSOLELOG_VIRTLOGD_CONF || VIRTLOGD_CONF, 'utf8');
      } catch {
        conf = undefined;
      }
    }
    this.policy = policyFor(virtlogdMaxSize(conf), opts.flushMs ?? 0);
  }

  /** Runs until the signal aborts; then flushes times and sinks. */
  async run(): Promise<void> {
    const signal = this.opts.signal;
    this.log(
      `collecting on host ${this.config.hostName}: live files sealed at ${this.policy.sealAtBytes} unsealed bytes, on rollover` +
        (this.policy.flushMs ? ` and every ${this.policy.flushMs} ms` : ''),
    );
    this.lastRetention = Date.now();
    let wake: (() => void) | undefined;
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    while (!signal?.aborted) {
      await this.tick(Date.now());
      await new Promise<void>((r) => {
        const t = setTimeout(r, TICK_MS);
        wake = () => (clearTimeout(t), r());
      });
    }
    await this.stop();
  }

  /** One pass: discovery, dirty (or all) devices, time points, status, retention. Exposed for tests. */
  async tick(now: number): Promise<void> {
    if (!this.changeWatchTried) {
      this.changeWatchTried = true;
      this.changeWatcher = this.watchDomainsChanged();
    }
    const since = now - this.lastDiscover;
    if (since >= DISCOVER_MS || (this.domainsChanged && since >= DISCOVER_SOON_MS)) {
      this.lastDiscover = now;
      this.domainsChanged = false;
      this.discover();
    }
    const sweep = now - this.lastSweep >= (this.watchBroken ? 250 : (this.opts.pollMs ?? 1000));
    if (sweep) this.lastSweep = now;
    for (const f of this.followed.values()) {
      const look = decideLook({
        sweep,
        renamed: f.renamed,
        written: f.dirty,
        fast: f.fast,
        msSinceLastLook: now - f.lastLook,
      });
      if (look !== 'none') this.observe(f, now, look === 'list');
      else if (f.partial.length && now - f.partialSince >= TORN_LINE_MS)
        this.emit(f, Buffer.concat(f.partial), now);
      if (now >= f.pointsDueAt) this.flushPoints(f, now);
    }
    if (now - this.lastStatus >= STATUS_MS) {
      this.lastStatus = now;
      this.writeStatus(now);
    }
    if (now - this.lastRetention >= (this.opts.retentionMs ?? 3600_000)) {
      this.lastRetention = now;
      await this.retention();
    }
  }

  /**
   * domain.json of `uuid`, read again only when its identity, size or mtime changed (it is replaced
   * by rename at each write): the stat by path is a hint only, the read goes through SafeDir.
   */
  private domainStateOf(uuid: string): DomainState | undefined {
    let stamp: string | undefined;
    try {
      const st = fs.lstatSync(posix.join(this.config.logRoot, uuid, DOMAIN_STATE_FILE));
      stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch {
      stamp = undefined;
    }
    const had = this.domainStates.get(uuid);
    if (stamp !== undefined && had?.stamp === stamp) return had.state;
    const state = readDomainStateOf(this.config, uuid);
    if (stamp !== undefined && state) this.domainStates.set(uuid, { stamp, state });
    else this.domainStates.delete(uuid);
    return state;
  }

  /** Follows every device of this host that domain.json says virtlogd logs in append mode. */
  private discover(): void {
    const seen = new Set<string>();
    const uuids = listDomainUuids(this.config);
    const listed = new Set(uuids);
    for (const uuid of this.domainStates.keys()) if (!listed.has(uuid)) this.domainStates.delete(uuid);
    for (const uuid of uuids) {
      const state = this.domainStateOf(uuid);
      if (!state) continue;
      const h = state.hosts[this.config.hostName];
      if (!h) continue;
      for (const [device, d] of Object.entries(h.devices)) {
        // QEMU truncates a file backend at each start; only virtlogd's append-mode logs are followed.
        if (d.kind !== 'log' || d.truncating || !posix.isAbsolute(d.path)) continue;
        const key = `${uuid}/${device}`;
        seen.add(key);
        const had = this.followed.get(key);
        if (had && had.path === d.path) {
          had.domain = currentName(state) ?? uuid;
          continue;
        }
        const f: Followed = {
          uuid,
          device,
          domain: currentName(state) ?? uuid,
          path: d.path,
          dirPath: posix.dirname(d.path),
          base: posix.basename(d.path),
          boot: d.boot?.id ?? null,
          files: [],
          sealed: new Map(),
          lastSeal: 0,
          sealing: false,
          dirty: true,
          renamed: true,
          fast: false,
          lastLook: 0,
          fds: new Map(),
          observed: false,
          times: new Map(),
          pointsDueAt: Infinity,
          readTo: new Map(),
          partial: [],
          partialSince: 0,
          stats: { capturedBytes: 0, lostBytes: 0, seals: 0, bytesSeen: 0, since: Date.now() },
        };
        if (had) {
          this.byFile.delete(watchKey(had.dirPath, had.base));
          this.releaseFds(had);
        }
        this.followed.set(key, f);
        this.byFile.set(watchKey(f.dirPath, f.base), f);
        this.watch(f.dirPath);
      }
    }
    for (const [key, f] of [...this.followed]) {
      if (seen.has(key)) continue;
      this.followed.delete(key);
      const k = watchKey(f.dirPath, f.base);
      if (this.byFile.get(k) === f) this.byFile.delete(k);
      this.releaseFds(f);
    }
  }

  /**
   * Watches the service's state folder for the writers' signal: a guest new to this host is then
   * followed from its first lines (a change in domain.json), not up to DISCOVER_MS later.
   */
  private watchDomainsChanged(): fs.FSWatcher | undefined {
    const dir = captureStateDir(this.config);
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      return fs
        .watch(dir, { persistent: false }, (_ev, name) => {
          if (name?.toString() === DOMAINS_CHANGED_FILE) this.domainsChanged = true;
        })
        .on('error', () => (this.changeWatcher = undefined));
    } catch (e) {
      this.log(`fs.watch ${dir}: ${(e as Error).message}: new guests are found every ${DISCOVER_MS} ms`);
      return undefined;
    }
  }

  private watch(dir: string): void {
    if (this.watchers.has(dir) || this.watchBroken) return;
    try {
      const w = fs.watch(dir, { persistent: false }, (ev, name) => {
        const n = name?.toString();
        // One lookup per event (a busy host has thousands a second): the name, or its `.N` backup's base.
        // Only marks: the tick looks at a device once per COALESCE_MS however many writes came.
        const f =
          n && (this.byFile.get(watchKey(dir, n)) ?? this.byFile.get(watchKey(dir, n.replace(/\.\d+$/, ''))));
        if (f) {
          f.dirty = true;
          if (ev === 'rename') f.renamed = true;
        } else if (!n)
          for (const x of this.followed.values()) if (x.dirPath === dir) x.dirty = x.renamed = true;
      });
      w.on('error', () => {
        this.watchers.delete(dir);
        this.watchBroken = true;
      });
      this.watchers.set(dir, w);
    } catch (e) {
      // No inotify (watch limit, a file system without it): the 250 ms sweep takes over.
      this.watchBroken = true;
      this.log(`fs.watch ${dir}: ${(e as Error).message}: polling every 250 ms`);
    }
  }

  /** The device's rotation set now, oldest first; never through a symlink. */
  private listFiles(f: Followed): SeenFile[] {
    const out: SeenFile[] = [];
    const look = (name: string, live: boolean): boolean => {
      let st: fs.Stats | undefined;
      try {
        // The first missing backup ends every listing (200 a second at 200 guests): no Error made for it.
        st = fs.lstatSync(posix.join(f.dirPath, name), { throwIfNoEntry: false });
      } catch {
        return false;
      }
      if (!st) return false;
      if (st.isFile())
        out.unshift({
          name,
          live,
          dev: st.dev,
          ino: st.ino,
          birth: Math.floor(st.birthtimeMs),
          size: st.size,
        });
      return true;
    };
    look(f.base, true);
    for (let i = 0; i < 1000 && look(`${f.base}.${i}`, false); i++);
    return out;
  }

  /**
   * The files' sizes through their held descriptors (no lookup by name); undefined when the set
   * must be listed by name: a descriptor missing, or nothing grew although a write was signalled
   * (the name may point to another file now: a rename inotify did not report).
   */
  private sizesHeld(f: Followed): SeenFile[] | undefined {
    let grew = false;
    const out: SeenFile[] = [];
    for (const file of f.files) {
      const fd = f.fds.get(fileKey(file));
      if (fd === undefined) return undefined;
      let size: number;
      try {
        size = fs.fstatSync(fd).size;
      } catch {
        return undefined;
      }
      if (size < file.size) return undefined;
      if (size > file.size) grew = true;
      out.push(size === file.size ? file : { ...file, size });
    }
    return grew ? out : undefined;
  }

  private observe(f: Followed, now: number, list: boolean): void {
    f.dirty = false;
    f.renamed = false;
    f.lastLook = now;
    const held = list ? undefined : this.sizesHeld(f);
    const files = held ?? this.listFiles(f);
    let grown = 0;
    if (held) {
      // The same files in the same order, none shorter (sizesHeld): nothing lost, nothing to forget.
      for (let i = 0; i < files.length; i++)
        grown += (files[i] as SeenFile).size - (f.files[i] as SeenFile).size;
    } else {
      this.holdFds(f, files);
      const before = new Map(f.files.map((x) => [fileKey(x), x.size]));
      grown = files.reduce((n, x) => n + Math.max(0, x.size - (before.get(fileKey(x)) ?? 0)), 0);
      const lost = lostBytes(f.files, files, f.sealed);
      if (lost > 0) {
        f.stats.lostBytes += lost;
        this.log(`${f.domain} ${f.device}: ${lost} bytes deleted by virtlogd before they were captured`);
      }
      const present = new Set(files.map(fileKey));
      for (const k of [...f.times.keys()]) if (!present.has(k)) f.times.delete(k);
    }
    f.fast = grown >= fastGrowth(this.policy);
    for (const file of files) {
      const k = fileKey(file);
      let t = f.times.get(k);
      if (!t) f.times.set(k, (t = { birth: file.birth }));
      const seen = t.pending ?? t.last;
      if (file.size !== seen?.offset) {
        if (file.size > (seen?.offset ?? 0)) f.stats.bytesSeen += file.size - (seen?.offset ?? 0);
        if (file.size > 0) t.pending = { offset: file.size, time: now };
      }
    }
    f.pointsDueAt = this.pointsDueAt(f);
    if (this.sinks.length) this.readLines(f, files, now, !held);
    f.files = files;
    if (!f.sealing && files.some((x) => !f.sealed.has(fileKey(x)))) this.learnSealed(f, files);
    const d = decideSeal(files, f.sealed, this.policy, now - f.lastSeal);
    if (d.seal && !f.sealing) {
      const p = this.seal(f, d.why ?? 'unknown');
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
  }

  /**
   * Files new to the service that sealed.json (read without the lock: written by rename, whole or
   * not at all) and chain.json do not name hold no sealed byte: they count as sealed to 0, which
   * spares a seal (three fsyncs) per new file, 200 at a start with 200 new guests. A file they do
   * name (maybe an earlier file under a reused inode) stays unknown: decideSeal seals it once.
   */
  private learnSealed(f: Followed, files: readonly SeenFile[]): void {
    let text: string | undefined;
    let chain: string | undefined;
    try {
      const dir = openDomainDir(this.config, f.uuid);
      try {
        text = dir?.readText(SEAL_STATE_FILE);
        chain = dir?.readText(CHAIN_STATE_FILE);
      } finally {
        dir?.close();
      }
    } catch {
      return;
    }
    const parsed = parseSealState(text);
    if (!parsed) return;
    const state = withChainFilesSealed(parsed, parseChainState(chain));
    const host = this.config.hostName;
    const named = new Set(
      state.files.filter((t) => t.host === host).map((t) => fileKey({ ...t, birth: t.birthtimeMs })),
    );
    for (const x of files) {
      const k = fileKey(x);
      if (!f.sealed.has(k) && !named.has(k)) f.sealed.set(k, 0);
    }
  }

  /** Seals the device under the domain lock; learns the watermarks the seal left. */
  private async seal(f: Followed, why: string): Promise<void> {
    f.sealing = true;
    const host = this.config.hostName;
    try {
      await withStore(this.config, f.uuid, (store) => {
        const h = hostState(store.domain, host);
        const d = h.devices[f.device];
        if (!d || d.kind !== 'log' || d.truncating) return;
        f.boot = d.boot?.id ?? f.boot;
        const out = sealDeviceMakingRoom(
          store,
          {
            host,
            device: f.device,
            path: d.path,
            generation: h.generation,
            reason: 'capture',
            ...(d.boot ? { boot: d.boot } : {}),
            truncateNext: false,
            truncating: false,
            compress: false,
          },
          new Date(),
        );
        for (const s of out.segments) f.stats.capturedBytes += s.bytes;
        f.stats.seals++;
        if (out.skipped && out.refused) f.error = out.skipped;
        f.sealed = new Map(
          store.seal.files
            .filter((t) => t.host === host && t.device === f.device)
            .map((t) => [fileKey({ ...t, birth: t.birthtimeMs }), t.offset]),
        );
      });
      f.lastSeal = Date.now();
      if (f.error && !f.error.includes('refused')) delete f.error;
    } catch (e) {
      f.error = `seal (${why}) failed: ${(e as Error).message}`;
      this.log(`${f.domain} ${f.device}: ${f.error}`);
      if (!(e instanceof LockTimeoutError)) f.lastSeal = Date.now();
    } finally {
      f.sealing = false;
      // Looked at again (by name) after the seal: what came meanwhile is decided on.
      f.dirty = f.renamed = true;
    }
  }

  private pointsDueAt(f: Followed): number {
    let at = Infinity;
    for (const t of f.times.values()) at = Math.min(at, pointDueAt(t.last, t.pending));
    return at;
  }

  /** Appends due time points to the domain's times-<host>.jsonl (only this service writes it). */
  private flushPoints(f: Followed, now: number, all = false): void {
    let text = '';
    for (const [k, t] of f.times) {
      if (!(all ? !!t.pending : now >= pointDueAt(t.last, t.pending))) continue;
      const p = t.pending as TimePoint;
      const [dev, ino] = k.split(':').map(Number) as [number, number];
      text += pointLine({ dev, ino, birth: t.birth }, p);
      t.last = p;
      delete t.pending;
    }
    f.pointsDueAt = this.pointsDueAt(f);
    if (!text) return;
    try {
      const fd = this.timesFd(f.uuid);
      fs.writeSync(fd, text);
    } catch (e) {
      f.error = `time index not written: ${(e as Error).message}`;
    }
  }

  /**
   * The open times file of a domain, opened again when retention replaced (compacted: renamed over)
   * or removed it: either leaves the open file without a name, which fstat tells without a path walk.
   */
  private timesFd(uuid: string): number {
    const had = this.timeFds.get(uuid);
    if (had !== undefined) {
      if (fs.fstatSync(had).nlink > 0) return had;
      fs.closeSync(had);
      this.timeFds.delete(uuid);
    }
    const dir = SafeDir.openBeneath(this.config.logRoot, [uuid]);
    let fd: number;
    try {
      fd = dir.open(
        timesFileName(this.config.hostName),
        C.O_WRONLY | C.O_APPEND | C.O_CREAT,
        this.config.logFileMode,
      );
    } finally {
      dir.close();
    }
    this.timeFds.set(uuid, fd);
    return fd;
  }

  /** Opens one of the device's files for reading, never through a symlink, and checks it is that file. */
  private openChecked(f: Followed, file: SeenFile): number | undefined {
    let fd: number;
    try {
      fd = fs.openSync(posix.join(f.dirPath, file.name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      const st = fs.fstatSync(fd);
      if (st.ino === file.ino && st.dev === file.dev) return fd;
    } catch {
      // Treated as another file.
    }
    fs.closeSync(fd);
    return undefined;
  }

  /** Holds a read descriptor for each file of the set (a look then needs no lookup by name); closes the rest. */
  private holdFds(f: Followed, files: readonly SeenFile[]): void {
    const keys = new Set(files.map(fileKey));
    for (const [k, fd] of f.fds)
      if (!keys.has(k)) {
        fs.closeSync(fd);
        f.fds.delete(k);
        this.heldFds--;
      }
    for (const file of files) {
      const k = fileKey(file);
      if (f.fds.has(k) || this.heldFds >= MAX_HELD_FDS) continue;
      const fd = this.openChecked(f, file);
      if (fd === undefined) continue;
      f.fds.set(k, fd);
      this.heldFds++;
    }
  }

  private releaseFds(f: Followed): void {
    for (const fd of f.fds.values()) fs.closeSync(fd);
    this.heldFds -= f.fds.size;
    f.fds.clear();
  }

  /** Hands whole lines past what the sinks got to each sink (a new service starts at the end). */
  private readLines(f: Followed, files: readonly SeenFile[], now: number, listed: boolean): void {
    const first = !f.observed;
    f.observed = true;
    for (const file of files) {
      const k = fileKey(file);
      let from = f.readTo.get(k);
      if (from === undefined) from = first ? file.size : 0;
      if (file.size < from) from = 0;
      if (file.size > from) {
        const held = f.fds.get(k);
        const fd = held ?? this.openChecked(f, file);
        if (fd === undefined) continue;
        try {
          const end = Math.min(file.size, from + MAX_READ);
          while (from < end) {
            const n = fs.readSync(fd, SCRATCH, 0, Math.min(SCRATCH.length, end - from), from);
            if (!n) break;
            this.split(f, SCRATCH.subarray(0, n), now);
            from += n;
          }
          // A backlog beyond MAX_READ: the next tick reads on, without waiting COALESCE_MS.
          if (from < file.size) f.renamed = true;
        } catch {
          // Read error: the next look lists the set again.
          f.renamed = true;
        } finally {
          if (held === undefined) fs.closeSync(fd);
        }
      }
      f.readTo.set(k, from);
    }
    if (listed)
      for (const k of [...f.readTo.keys()]) if (!files.some((x) => fileKey(x) === k)) f.readTo.delete(k);
    if (f.partial.length && now - f.partialSince >= TORN_LINE_MS) this.emit(f, Buffer.concat(f.partial), now);
  }

  private split(f: Followed, data: Buffer, now: number): void {
    let from = 0;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, from)) {
      const part = data.subarray(from, nl);
      this.emit(f, f.partial.length ? Buffer.concat([...f.partial, part]) : Buffer.from(part), now);
      from = nl + 1;
    }
    if (from < data.length) {
      if (!f.partial.length) f.partialSince = now;
      f.partial.push(Buffer.from(data.subarray(from)));
      if (f.partial.reduce((n, b) => n + b.length, 0) >= MAX_LINE)
        this.emit(f, Buffer.concat(f.partial), now);
    }
  }

  private emit(f: Followed, text: Buffer, now: number): void {
    f.partial = [];
    const line = text.length && text[text.length - 1] === 13 ? text.subarray(0, text.length - 1) : text;
    const marker = mayBeMarkerStart(line) ? parseBootMarker(line.toString('latin1')) : undefined;
    if (marker) {
      f.boot = marker.id;
      return;
    }
    const captured: CapturedLine = {
      time: now,
      domain: f.domain,
      uuid: f.uuid,
      device: f.device,
      boot: f.boot,
      text: line,
    };
    for (const s of this.sinks) s.write(captured);
  }

  private writeStatus(now: number): void {
    const devices: DeviceStatus[] = [...this.followed.values()].map((f) => ({
      uuid: f.uuid,
      domain: f.domain,
      device: f.device,
      bytesSeen: f.stats.bytesSeen,
      capturedBytes: f.stats.capturedBytes,
      lostBytes: f.stats.lostBytes,
      seals: f.stats.seals,
      bytesPerSecond: Math.round((f.stats.bytesSeen * 1000) / Math.max(1000, now - f.stats.since)),
      unsealedBytes: f.files.reduce((n, x) => n + Math.max(0, x.size - (f.sealed.get(fileKey(x)) ?? 0)), 0),
      lastSeal: f.lastSeal ? new Date(f.lastSeal).toISOString() : null,
      ...(f.error ? { error: f.error } : {}),
    }));
    const status: CaptureStatus = {
      pid: process.pid,
      host: this.config.hostName,
      started: new Date(this.started).toISOString(),
      updated: new Date(now).toISOString(),
      watch: this.watchBroken ? 'poll' : 'inotify',
      sealAtBytes: this.policy.sealAtBytes,
      flushMs: this.policy.flushMs,
      lastRetention: new Date(this.lastRetention).toISOString(),
      devices,
      ...(this.opts.hookEvents ? { hookEvents: this.opts.hookEvents() } : {}),
    };
    try {
      writeCaptureStatus(this.config, status);
    } catch (e) {
      this.log(`status not written: ${(e as Error).message}`);
    }
  }

  /**
   * Retention as `prune --all` does it: each domain (cap, retention_days), then global_cap_bytes,
   * then the history of domains libvirt no longer lists (undefined_retention_days).
   */
  private async retention(): Promise<void> {
    const uuids = listDomainUuids(this.config);
    const now = new Date();
    for (const uuid of uuids) {
      try {
        await withStore(this.config, uuid, (store) => applyDomainRetention(store, now));
      } catch (e) {
        this.log(`retention ${uuid}: ${(e as Error).message}`);
      }
    }
    await applyGlobalCap(this.config, now, this.log);
    if (this.config.undefinedRetentionDays > 0) {
      const defined = await listedDomains({ uri: uriFrom(undefined, process.env) });
      await applyUndefinedRetention(this.config, now, defined, this.log);
    }
  }

  /** Resolves when the seals started so far have ended. */
  async settled(): Promise<void> {
    await Promise.all([...this.inflight]);
  }

  async stop(): Promise<void> {
    await this.settled();
    const now = Date.now();
    for (const f of this.followed.values()) {
      if (f.partial.length) this.emit(f, Buffer.concat(f.partial), now);
      this.flushPoints(f, now, true);
    }
    this.writeStatus(now);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.changeWatcher?.close();
    for (const fd of this.timeFds.values()) fs.closeSync(fd);
    this.timeFds.clear();
    for (const f of this.followed.values()) this.releaseFds(f);
    await Promise.all(this.sinks.map((s) => s.close().catch(() => undefined)));
  }
}
