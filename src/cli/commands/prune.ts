// virt-consolelog prune: apply retention (domain cap, global cap, retention_days) by hand.
import { EXIT, UsageError, type Command } from '../command.js';
import { flagOpt } from '../options.js';
import { listDomainUuids, readDomainStateOf } from '../../store/find.js';
import { LockTimeoutError } from '../../store/lock.js';
import { applyDomainRetention, liveBytesOf, planRetention } from '../../store/retention.js';
import { withStore } from '../../store/session.js';
import { deleteSegment, listSegments } from '../../store/segments.js';
import { HistoryError, resolveOne } from '../../history/reader.js';

const USAGE = `usage: virt-consolelog prune (DOMAIN | --all) [--dry-run]

Compresses sealed segments of at least compress_min_bytes, then deletes the oldest segments of a
domain over domain_cap_bytes (live files count, but are never deleted), segments older than
retention_days, and with --all the oldest segments of any domain over global_cap_bytes.
--dry-run prints what would be deleted and changes nothing.`;

export const pruneCommand: Command = {
  usage: USAGE,
  options: { all: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
  async run(args, ctx) {
    const dryRun = flagOpt(args, 'dry-run');
    const all = flagOpt(args, 'all');
    const rest = args.positionals;
    if (all === (rest.length === 1) || rest.length > 1) throw new UsageError('give one DOMAIN or --all');
    const { config } = ctx.config();
    let uuids: string[];
    if (all) uuids = listDomainUuids(config);
    else {
      try {
        uuids = [resolveOne(config, rest[0] as string).uuid];
      } catch (e) {
        if (e instanceof HistoryError) {
          ctx.io.stderr.write(`virt-consolelog prune: ${e.message}\n`);
          return EXIT.notFound;
        }
        throw e;
      }
    }
    const verb = dryRun ? 'would prune' : 'pruned';
    const out = (s: string) => ctx.io.stdout.write(s + '\n');
    let failed = 0;
    let total = 0;
    const now = new Date();
    for (const uuid of uuids) {
      try {
        const r = await withStore(config, uuid, (store) => applyDomainRetention(store, now, { dryRun }));
        for (const c of r.compressed) out(`${uuid} compressed ${c.key} (saved ${c.saved} bytes)`);
        for (const d of r.deleted) out(`${uuid} ${verb} ${d.key} (${d.bytes} bytes, ${d.why})`);
        if (r.overCap !== undefined)
          out(`${uuid} still over its cap: live files alone hold ${r.overCap} bytes`);
        total += r.deleted.reduce((n, d) => n + d.bytes, 0);
      } catch (e) {
        failed++;
        ctx.io.stderr.write(`virt-consolelog prune: ${uuid}: ${(e as Error).message}\n`);
        if (!(e instanceof LockTimeoutError)) continue;
      }
    }
    if (all && config.globalCapBytes > 0) {
      const segments = uuids.flatMap((uuid) =>
        listSegments(config, uuid).map((s) => ({
          uuid,
          key: s.key,
          storedBytes: s.storedBytes + s.sidecarBytes,
          lastTime: s.lastTime,
        })),
      );
      const liveBytes = Object.fromEntries(
        uuids.map((u) => {
          const st = readDomainStateOf(config, u);
          return [u, st ? liveBytesOf(config, st) : 0];
        }),
      );
      const plan = planRetention({
        segments,
        liveBytes,
        domainCapBytes: 0,
        globalCapBytes: config.globalCapBytes,
        retentionDays: 0,
        now,
      });
      const byDomain = new Map<string, string[]>();
      for (const d of plan.delete) byDomain.set(d.uuid, [...(byDomain.get(d.uuid) ?? []), d.key]);
      for (const d of plan.delete) out(`${d.uuid} ${verb} ${d.key} (${d.bytes} bytes, ${d.why})`);
      total += plan.delete.reduce((n, d) => n + d.bytes, 0);
      if (!dryRun) {
        for (const [uuid, keys] of byDomain) {
          try {
            await withStore(config, uuid, (store) => {
              for (const k of keys) deleteSegment(store.archive, k);
              store.archive.fsync();
            });
          } catch (e) {
            failed++;
            ctx.io.stderr.write(`virt-consolelog prune: ${uuid}: ${(e as Error).message}\n`);
          }
        }
      }
    }
    out(`${verb} ${total} bytes in ${uuids.length} domain(s)${failed ? `, ${failed} failed` : ''}`);
    return failed ? (failed === uuids.length ? EXIT.failure : EXIT.partial) : EXIT.ok;
  },
};
