// prepare begin: ensure the store, seal what this start would truncate, append boot markers,
// record names, sources and generation in domain.json, schedule the automatic mode's job. Never
// fails the start (run.ts fails open).
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { randomBytes } from '../util/crypto.js';
import { domainOf, type HandlerResult, type HookContext } from './context.js';
import { decidePrepare, markerTargets } from './decide-prepare.js';
import { listChardevs, readDomainIdentity, type ChardevInfo } from '../xml/chardevs.js';
import { readConsolelogMetadata, type ConsolelogMetadata } from '../xml/metadata.js';
import type { Config } from '../config/schema.js';
import {
  hostState,
  KNOWN_BOOTS,
  noteName,
  withHost,
  type BootRef,
  type DomainState,
} from '../store/domain-state.js';
import { normaliseUuid } from '../store/layout.js';
import { bootMarkerLine } from '../store/markers.js';
import { locateAllowed, SafeDir, UnsafePathError } from '../store/safe-fs.js';
import { actionRoots } from '../store/files.js';
import { sealDeviceMakingRoom } from '../store/seal.js';
import { storeUnusable, withStore } from '../store/session.js';
import { resolveDomain } from '../store/find.js';
import { rememberWaitingMarker } from '../store/waiting-markers.js';
import { takeIncomingMigration } from '../transfer/start.js';
import { retryPendingFetch } from './history-fetch.js';
import { startArrivalFetch, type ArrivalFacts } from './arrival-fetch.js';
import { scheduleAutoEnable } from './auto-enable.js';
import { chainTargetsAtPrepare, type ChainTarget } from '../chain/targets.js';

const C = fs.constants;

export function newBootId(): string {
  return randomBytes(8).toString('hex');
}

/** The domain's UUID from XML that the full parser refused, else from the store by name. */
function fallbackUuid(config: Config, xml: string, name: string): string | undefined {
  const m = /<uuid>\s*([0-9A-Fa-f-]{32,36})\s*<\/uuid>/.exec(xml);
  const fromXml = m ? normaliseUuid(m[1] as string) : undefined;
  return fromXml ?? resolveDomain(config, name)[0]?.uuid;
}

/**
 * Creates the append-mode log (config.logFileMode) and its folders inside the allowed roots if
 * missing (virtlogd does not create folders) and, unless `line` is undefined (an arriving migration
 * or restore continues its boot), appends the boot marker. Never follows a symlink.
 */
export function appendBootMarker(config: Config, path: string, line: string | undefined): void {
  const loc = locateAllowed(path, actionRoots(config));
  if (!loc) throw new UnsafePathError(`${path} is outside the allowed roots: no boot marker written`);
  // live_dir is libvirt's QEMU log folder: made as libvirt makes it, in case this start comes first.
  if (loc.root === posix.normalize(config.liveDir).replace(/\/+$/, ''))
    fs.mkdirSync(loc.root, { recursive: true, mode: 0o755 });
  const dir = SafeDir.openBeneath(loc.root, loc.dirs, true, 0o750);
  try {
    const fd = dir.open(loc.name, C.O_RDWR | C.O_APPEND | C.O_CREAT | C.O_NONBLOCK, config.logFileMode);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new UnsafePathError(`${path} is not a regular file: no boot marker written`);
      if (line === undefined) return;
      let text = line;
      if (st.size > 0) {
        const last = Buffer.alloc(1);
        fs.readSync(fd, last, 0, 1, st.size - 1);
        // A marker must start a line; the guest's unfinished last line is ended first.
        if (last[0] !== 10) text = '\n' + line;
      }
      fs.writeSync(fd, text);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    dir.close();
  }
}

export async function handlePrepare(ctx: HookContext): Promise<HandlerResult> {
  const { config } = ctx;
  const host = config.hostName;
  const now = ctx.now();
  let uuid: string | undefined;
  let name = ctx.event.domain;
  let chardevs: ChardevInfo[] | undefined;
  let metadata: ConsolelogMetadata = {};
  try {
    const doc = domainOf(ctx);
    const id = readDomainIdentity(doc);
    uuid = id.uuid;
    name = id.name || name;
    chardevs = listChardevs(doc);
    metadata = readConsolelogMetadata(doc);
  } catch (e) {
    ctx.fail(`domain XML not understood (${(e as Error).message}): sealing every source the store knows`);
    uuid = fallbackUuid(config, ctx.xml, name);
    if (!uuid) {
      ctx.fail('no UUID in the XML and no store entry for this name: nothing sealed');
      return {};
    }
  }
  const boot: BootRef = { id: newBootId(), host, at: now.toISOString() };
  // An arriving live migration or a restore continues the running boot: a marker would cut its line.
  const continuing = takeIncomingMigration(config, uuid, now);
  if (continuing) ctx.note('incoming migration or restore: the running boot continues, no boot marker');
  const line = bootMarkerLine(boot.id, host, now);
  let marked = false;
  let before: DomainState | undefined;
  let nextSeq: number | undefined; // after this start's seals: what an arrival seals later is newer
  let chains: ChainTarget[] = []; // issue 15: reader chains, laid out once the store is unlocked
  try {
    await withStore(config, uuid, (store) => {
      before = store.domain;
      for (const r of store.repairs) ctx.note(r);
      for (const d of store.damage) ctx.report(d);
      if (store.lock.recovered) ctx.report(store.lock.recovered);
      if (store.lock.waitedMs > 100) ctx.note(`waited ${store.lock.waitedMs} ms for the domain lock`);
      const prev = hostState(store.domain, host);
      const plan = decidePrepare({ host, chardevs, metadata, state: store.domain, boot, continuing });
      const degraded: string[] = [];
      for (const step of plan.seal) {
        let out: ReturnType<typeof sealDeviceMakingRoom>;
        try {
          out = sealDeviceMakingRoom(
            store,
            {
              host,
              device: step.device,
              path: step.path,
              generation: prev.generation,
              reason: step.reason,
              ...(step.boot ? { boot: step.boot } : {}),
              truncateNext: step.truncateNext,
              truncating: step.truncateNext,
              unknownBootAt0: step.unknownBootAt0,
            },
            now,
          );
        } catch (e) {
          if (store.signal.aborted) throw e;
          // A full or failing archive costs this seal, not the boot markers after it: without its
          // marker, an append-mode log would run the new boot into the old one's last line.
          ctx.fail(`${step.device}: ${step.path} not sealed: ${(e as Error).message.split('\n')[0]}`);
          degraded.push(`${step.device}: not sealed (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
          continue;
        }
        if (out.refused) {
          ctx.fail(`${step.device}: ${out.skipped}`);
          degraded.push(`${step.device}: ${out.skipped}`);
        }
        for (const k of out.pruned)
          ctx.report(`disk full: pruned the oldest segment ${k} to seal ${step.device}`);
        for (const s of out.segments)
          ctx.note(`sealed ${s.bytes} bytes of ${s.from} as ${s.key} (${step.reason})`);
        for (const k of out.known ?? []) ctx.note(k);
      }
      chains = chainTargetsAtPrepare({
        config,
        seal: plan.seal,
        devices: plan.devices,
        prev,
        continuing,
        sharedStore: Object.keys(store.domain.hosts).some((h) => h !== host),
      });
      marked = true;
      for (const m of plan.markers) {
        try {
          appendBootMarker(config, m.path, plan.writeMarkers ? line : undefined);
        } catch (e) {
          ctx.fail(`${m.device}: ${(e as Error).message}`);
          degraded.push(`${m.device}: ${(e as Error).message}`);
        }
      }
      for (const n of plan.notes) ctx.note(n);
      if (!Object.keys(plan.devices).length)
        degraded.push('no serial or console is logged: sealed-only capture');
      let domain = noteName(store.domain, name, now);
      const wrote = plan.writeMarkers && plan.markers.length > 0;
      domain = withHost(domain, host, {
        ...(prev.markers || wrote
          ? { markers: [...(prev.markers ?? []), ...(wrote ? [boot.id] : [])].slice(-KNOWN_BOOTS) }
          : {}),
        generation: plan.generation,
        devices: plan.devices,
        lastEvent: { kind: 'prepare', at: now.toISOString() },
        ...(degraded.length ? { degraded } : {}),
      });
      store.domain = domain;
      nextSeq = store.seal.nextSeq;
      ctx.note(
        `boot ${boot.id}: ${plan.markers.length} marker(s), ${plan.seal.length} source(s) checked for sealing`,
      );
    });
  } catch (e) {
    // Append-mode logs live outside the store: the new boot still starts on a line of its own.
    if (!marked && !continuing && chardevs) markWithoutStore(ctx, uuid, chardevs, boot.id, line);
    const why = storeUnusable(e);
    if (why) ctx.fail(`${why}: nothing sealed, start goes on`);
    else throw e;
  }
  // Loaded only when needed: most starts lay out no chain and skip the history reader.
  if (chains.length) await (await import('../chain/events.js')).layoutChains(ctx, uuid, chains, now);
  // An arriving migration has just started its own fetch job; another arrival starts one here,
  // any other start retries an owed one.
  if (!continuing)
    await retryOwedFetch(ctx, uuid, {
      uuid,
      name,
      metadata,
      before,
      continuing,
      ...(nextSeq !== undefined ? { nextSeq } : {}),
    });
  // Only XML the parser understood can say whether the definition still needs the upgrade.
  if (chardevs) {
    try {
      await scheduleAutoEnable(ctx, uuid, name);
    } catch (e) {
      ctx.report(`auto-enable: ${(e as Error).message}`);
    }
  }
  return {};
}

/**
 * Boot markers when the store cannot be used (locked, read-only, full): the guest's unfinished
 * last line is ended and the boundary is in the log. domain.json cannot take the id now, so it
 * waits in state_dir for the next hook that holds the store (until then `show` prints the marker
 * as a plain line).
 */
function markWithoutStore(
  ctx: HookContext,
  uuid: string,
  chardevs: ChardevInfo[],
  id: string,
  line: string,
): void {
  const written: string[] = [];
  for (const m of markerTargets(chardevs)) {
    try {
      appendBootMarker(ctx.config, m.path, line);
      written.push(m.device);
    } catch (e) {
      ctx.report(`${m.device}: ${(e as Error).message}`);
    }
  }
  if (!written.length) return;
  try {
    rememberWaitingMarker(ctx.config, uuid, id);
    ctx.report(
      `${written.join(', ')}: boot marker written, recorded at the next event (store unavailable now)`,
    );
  } catch (e) {
    ctx.report(
      `${written.join(', ')}: boot marker written but not recorded (store unavailable, and ${(e as Error).message}): shown as a plain line`,
    );
  }
}

/** A history fetch that failed earlier is retried at the domain's next event (cheap when none is owed). */
export async function retryOwedFetch(ctx: HookContext, uuid: string, arrival?: ArrivalFacts): Promise<void> {
  try {
    if (arrival) await startArrivalFetch(ctx, arrival);
    else await retryPendingFetch(ctx, uuid);
  } catch (e) {
    ctx.report(`history fetch retry not started: ${(e as Error).message}`);
  }
}
