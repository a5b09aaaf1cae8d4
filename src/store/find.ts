// Finding domains in the store: by UUID, or by a name recorded in their domain.json.
import * as fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { currentName, parseDomainState, type DomainState } from './domain-state.js';
import { DOMAIN_STATE_FILE, isUuid, normaliseUuid } from './layout.js';
import { SafeDir } from './safe-fs.js';

/** UUIDs of every domain folder in the store. */
export function listDomainUuids(config: Config): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(config.logRoot);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter(isUuid).sort();
}

export function readDomainStateOf(config: Config, uuid: string): DomainState | undefined {
  let dir: SafeDir;
  try {
    dir = SafeDir.openBeneath(config.logRoot, [uuid]);
  } catch {
    return undefined;
  }
  try {
    return parseDomainState(uuid, dir.readText(DOMAIN_STATE_FILE));
  } catch {
    return undefined;
  } finally {
    dir.close();
  }
}

export interface DomainMatch {
  uuid: string;
  state: DomainState;
  /** The name it was last seen with. */
  name: string | undefined;
}

/**
 * Resolves what an operator typed: a UUID (any case, with or without dashes) or a domain name.
 * A name may match several UUIDs (a name re-used by a new domain): newest use first.
 */
export function resolveDomain(config: Config, what: string): DomainMatch[] {
  const uuid = normaliseUuid(what);
  if (uuid) {
    const state = readDomainStateOf(config, uuid);
    return state ? [{ uuid, state, name: currentName(state) }] : [];
  }
  const out: (DomainMatch & { lastSeen: string })[] = [];
  for (const u of listDomainUuids(config)) {
    const state = readDomainStateOf(config, u);
    const n = state?.names.find((x) => x.name === what);
    if (state && n) out.push({ uuid: u, state, name: currentName(state), lastSeen: n.lastSeen });
  }
  out.sort((a, b) => (a.lastSeen < b.lastSeen ? 1 : -1));
  return out.map(({ lastSeen: _l, ...m }) => m);
}

/** What an operator typed that names no domain of the store, or several. */
export class DomainLookupError extends Error {
  override name = 'DomainLookupError';
  constructor(
    message: string,
    readonly code: 'not-found' | 'ambiguous',
  ) {
    super(message);
  }
}

/** Resolves a name or UUID to exactly one domain of the store (DomainLookupError otherwise). */
export function resolveOneDomain(
  config: Config,
  domain: string,
): { uuid: string; state: DomainState; name?: string } {
  const hits = resolveDomain(config, domain);
  if (!hits.length)
    throw new DomainLookupError(
      `no history for domain ${JSON.stringify(domain)} in ${config.logRoot}`,
      'not-found',
    );
  const uuids = new Set(hits.map((h) => h.uuid));
  if (uuids.size > 1)
    throw new DomainLookupError(
      `the name ${JSON.stringify(domain)} was used by several domains: ${[...uuids].join(', ')}; give a UUID`,
      'ambiguous',
    );
  const h = hits[0] as (typeof hits)[number];
  return { uuid: h.uuid, state: h.state, ...(h.name ? { name: h.name } : {}) };
}
