// undefined_retention_days: the history of domains libvirt no longer lists on this host (undefined,
// migrated away) is forgotten once older than the grace. libvirt's list is asked by the caller (the
// service, `prune --all`, the hook's detached job), never by a hook; this module never loads execa.
import type { Config } from '../config/schema.js';
import { planForget, type LibvirtDomains } from '../store/decide-forget.js';
import { forgetDomain, storedHistories } from '../store/forget.js';

export interface ForgetResult {
  /** Domains whose history was deleted (with dryRun: would be), with the time their history ended. */
  forgotten: { uuid: string; lastTime: string }[];
  failed: { uuid: string; message: string }[];
  /** Why nothing was looked at (grace 0, libvirt not reachable). */
  skipped?: string;
}

/** Forgets every domain planForget selects, each decided again under its lock. */
export async function applyUndefinedRetention(
  config: Config,
  now: Date,
  defined: LibvirtDomains,
  log: (m: string) => void,
  opts: { dryRun?: boolean } = {},
): Promise<ForgetResult> {
  const graceDays = config.undefinedRetentionDays;
  const plan = planForget({
    domains: storedHistories(config),
    defined,
    graceDays,
    now,
    host: config.hostName,
  });
  const result: ForgetResult = { forgotten: [], failed: [] };
  if (plan.skipped) {
    if (graceDays > 0) log(`undefined_retention_days: nothing forgotten: ${plan.skipped}`);
    return { ...result, skipped: plan.skipped };
  }
  const listed = new Set('uuids' in defined ? defined.uuids.map((u) => u.toLowerCase()) : []);
  for (const f of plan.forget) {
    const lastTime = new Date(f.lastTime).toISOString();
    try {
      const kept = await forgetDomain(config, f.uuid, listed, graceDays, now, opts.dryRun);
      if (kept) log(`undefined_retention_days: ${f.uuid} kept: ${kept}`);
      else {
        result.forgotten.push({ uuid: f.uuid, lastTime });
        if (!opts.dryRun)
          log(
            `undefined_retention_days: forgot ${f.uuid} (not listed by libvirt, history ended ${lastTime})`,
          );
      }
    } catch (e) {
      result.failed.push({ uuid: f.uuid, message: (e as Error).message });
      log(`undefined_retention_days: ${f.uuid}: ${(e as Error).message}`);
    }
  }
  return result;
}

/** Domains the grace alone would let go (as if libvirt listed none): whether a job is worth starting. */
export function forgetCandidates(config: Config, now: Date): string[] {
  return planForget({
    domains: storedHistories(config),
    defined: { uuids: [] },
    graceDays: config.undefinedRetentionDays,
    now,
    host: config.hostName,
  }).forget.map((f) => f.uuid);
}
