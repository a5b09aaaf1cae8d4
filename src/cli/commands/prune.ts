// virt-consolelog prune: apply retention (domain cap, global cap, retention_days, and with --all
// undefined_retention_days) by hand.
import { EXIT, UsageError, type Command } from '../command.js';
import { flagOpt, stringOpt } from '../options.js';
import { listDomainUuids } from '../../store/find.js';
import { LockTimeoutError } from '../../store/lock.js';
import { applyDomainRetention } from '../../store/retention.js';
import { withStore } from '../../store/session.js';
import { HistoryError, resolveOne } from '../../history/reader.js';
import { applyGlobalCap } from '../../capture/global-retention.js';
import { applyUndefinedRetention } from '../../capture/undefined-retention.js';

const USAGE = `usage: virt-consolelog prune (DOMAIN | --all) [--dry-run] [--connect URI]

Compresses sealed segments of at least compress_min_bytes, then deletes the oldest segments of a
domain over domain_cap_bytes (live files count, but are never deleted), segments older than
retention_days, and with --all the oldest segments of any domain over global_cap_bytes and the
whole history of domains libvirt no longer lists on this host (undefined, migrated away) whose
history ended more than undefined_retention_days ago (libvirt is asked with 'virsh list --all';
if it cannot be asked, none is forgotten). Retention runs by itself (the capture service hourly,
else the hook at each guest stop): prune does it now.
--dry-run prints what would be deleted and changes nothing.
--connect URI is the libvirt URI asked with --all (default: LIBVIRT_DEFAULT_URI, else virsh's).`;

export const pruneCommand: Command = {
  usage: USAGE,
  options: { all: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, connect: { type: 'string' } },
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
    const err = (s: string) => ctx.io.stderr.write(`virt-consolelog prune: ${s}\n`);
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
        err(`${uuid}: ${(e as Error).message}`);
        if (!(e instanceof LockTimeoutError)) continue;
      }
    }
    let forgotten = 0;
    if (all) {
      const g = await applyGlobalCap(config, now, () => undefined, { dryRun });
      for (const d of g.deleted) out(`${d.uuid} ${verb} ${d.key} (${d.bytes} bytes, ${d.why})`);
      for (const f of g.failed) err(`${f.uuid}: ${f.message}`);
      total += g.deleted.reduce((n, d) => n + d.bytes, 0);
      failed += g.failed.length;
      if (config.undefinedRetentionDays > 0) {
        // Loaded here: only --all asks libvirt (execa), `prune DOMAIN` stays light.
        const { listedDomains, uriFrom } = await import('../../definitions/virsh.js');
        const defined = await listedDomains({ uri: uriFrom(stringOpt(args, 'connect'), ctx.io.env) });
        const u = await applyUndefinedRetention(config, now, defined, () => undefined, { dryRun });
        if (u.skipped) err(`undefined_retention_days: nothing forgotten: ${u.skipped}`);
        for (const f of u.forgotten)
          out(
            `${f.uuid} ${dryRun ? 'would forget' : 'forgot'} its whole history (libvirt does not list it; it ended ${f.lastTime})`,
          );
        for (const f of u.failed) err(`${f.uuid}: ${f.message}`);
        forgotten = u.forgotten.length;
        failed += u.failed.length;
      }
    }
    out(
      `${verb} ${total} bytes in ${uuids.length} domain(s)` +
        (forgotten ? `, ${dryRun ? 'would forget' : 'forgot'} ${forgotten} domain(s)` : '') +
        (failed ? `, ${failed} failed` : ''),
    );
    return failed ? (failed >= uuids.length ? EXIT.failure : EXIT.partial) : EXIT.ok;
  },
};
