// release end: seal this host's part of the history, then retention. Only release end (not also
// stopped end, which comes just before it): one Node run per stop or outgoing migration.
import { domainOf, type HandlerResult, type HookContext } from './context.js';
import { decideStop } from './decide-stop.js';
import { readDomainIdentity } from '../xml/chardevs.js';
import { hostState, withHost } from '../store/domain-state.js';
import { resolveDomain } from '../store/find.js';
import { normaliseUuid } from '../store/layout.js';
import { applyDomainRetention } from '../store/retention.js';
import { hookGlobalRetention } from '../capture/global-retention.js';
import { cliBundle, spawnDetached } from '../util/jobs.js';
import { listArchive, type SegmentInfo } from '../store/segments.js';
import { sealHostLocked, unsealedBytes } from '../store/seal.js';
import { storeUnusable, withStore } from '../store/session.js';

function uuidOf(ctx: HookContext): string | undefined {
  try {
    return readDomainIdentity(domainOf(ctx)).uuid;
  } catch {
    const m = /<uuid>\s*([0-9A-Fa-f-]{32,36})\s*<\/uuid>/.exec(ctx.xml);
    return (m && normaliseUuid(m[1] as string)) || resolveDomain(ctx.config, ctx.event.domain)[0]?.uuid;
  }
}

/** Stored/plain size of the new segments, from the domain's gzip segments so far (1.5x margin). */
export function expectedRatio(segments: readonly SegmentInfo[]): number {
  const gz = segments.filter((s) => s.compressed && s.plainBytes > 0);
  const plain = gz.reduce((n, s) => n + s.plainBytes, 0);
  if (!plain) return 1;
  return Math.min(1, (1.5 * gz.reduce((n, s) => n + s.storedBytes, 0)) / plain);
}

export async function handleRelease(ctx: HookContext): Promise<HandlerResult> {
  const uuid = uuidOf(ctx);
  if (!uuid) {
    ctx.fail('domain UUID unknown (XML not understood, name not in the store): nothing sealed');
    return {};
  }
  const { config } = ctx;
  const host = config.hostName;
  const now = ctx.now();
  try {
    await withStore(config, uuid, async (store) => {
      for (const r of store.repairs) ctx.note(r);
      for (const d of store.damage) ctx.report(d);
      if (store.lock.recovered) ctx.report(store.lock.recovered);
      const plan = decideStop(ctx.event.extra, store.domain, host);
      // Make room first (the new segments count at their plain size, an upper bound), so the
      // domain stays under its cap at every moment, not only after the stop.
      if (config.domainCapBytes > 0) {
        const reserveBytes = Math.ceil(
          unsealedBytes(store, host) * expectedRatio(listArchive(store.archive)),
        );
        const pre = await applyDomainRetention(store, now, { reserveBytes, compress: false });
        for (const d of pre.deleted) ctx.note(`pruned ${d.key} (${d.bytes} bytes, ${d.why}) to make room`);
      }
      for (const out of sealHostLocked(store, host, plan.reason, now)) {
        if (out.refused) ctx.fail(`${out.device}: ${out.skipped}`);
        for (const k of out.pruned)
          ctx.report(`disk full: pruned the oldest segment ${k} to seal ${out.device}`);
        for (const s of out.segments)
          ctx.note(`sealed ${s.bytes} bytes of ${s.from} as ${s.key} (${plan.reason})`);
        for (const k of out.known ?? []) ctx.note(k);
      }
      const h = hostState(store.domain, host);
      store.domain = withHost(store.domain, host, {
        ...h,
        lastEvent: {
          kind: 'release',
          at: now.toISOString(),
          reason: plan.reason + (plan.inferred ? ' (inferred)' : ''),
        },
      });
      store.save(); // the seal is durable before the slower compression starts
      const r = await applyDomainRetention(store, now);
      for (const c of r.compressed) ctx.note(`compressed ${c.key} (saved ${c.saved} bytes)`);
      for (const d of r.deleted) ctx.note(`pruned ${d.key} (${d.bytes} bytes, ${d.why})`);
      if (r.overCap !== undefined)
        ctx.report(`live files alone (${r.overCap} bytes) exceed domain_cap_bytes ${config.domainCapBytes}`);
    });
  } catch (e) {
    // The live files keep those bytes; the next event (or `virt-consolelog sync`) seals them.
    const why = storeUnusable(e);
    if (why) ctx.fail(`${why}: not sealed now, the live files keep it for the next event`);
    else throw e;
  }
  // Issue 17: host-wide retention at most hourly when no capture service runs (it does it then);
  // forgetting undefined domains needs libvirt's list, so a detached job does that part.
  await hookGlobalRetention(
    config,
    now,
    (m) => ctx.note(m),
    async () => {
      const pid = await spawnDetached(process.execPath, [cliBundle(ctx.env), 'forget-undefined'], {
        env: ctx.env,
      });
      if (pid === undefined) ctx.report('undefined_retention_days: the job could not be started');
      else ctx.note('undefined_retention_days: job started to forget domains libvirt no longer lists');
    },
  ).catch((e: Error) => ctx.note(`global retention: ${e.message}`));
  return {};
}
