// virt-consolelog sync: fetches (or completes) a domain's earlier history from the host it came
// from, by hand or as the detached job the `migrate begin` hook starts.
import * as fs from 'node:fs';
import { EXIT, UsageError, type Command } from '../command.js';
import { flagOpt, parseCommandLine, stringOpt, type OptionTable, type ParsedArgs } from '../options.js';
import type { Config } from '../../config/schema.js';
import { normaliseUuid } from '../../store/layout.js';
import { readDomainState, openDomainDir } from '../../store/store.js';
import { currentName } from '../../store/domain-state.js';
import { runFetch } from '../../transfer/fetch.js';
import { fetchCandidates } from '../../transfer/start.js';
import {
  FetchBusyError,
  describeFetch,
  fetchOwed,
  listFetchRecords,
  readFetchRecord,
  writeFetchRecord,
  type FetchRecord,
} from '../../transfer/state.js';
import { isPeerName } from '../../transfer/transport.js';

const USAGE = [
  'usage: virt-consolelog sync [DOMAIN | --all] [--from HOST]',
  '',
  "Fetches a domain's history from the host it ran on before (the migration's previous host, from",
  'the metadata hint recorded at `migrate begin`, else the configured peers), resumes partial',
  'transfers, and completes fetches that waited for the previous host to seal its part.',
  '  DOMAIN       name or UUID',
  '  --all        every domain whose fetch is not complete (failed or waiting)',
  '  --from HOST  fetch from HOST (whatever the record says); also for a domain with no record',
  '',
  'Exit: 0 all complete, 1 failed, 3 unknown domain, 4 some failed or still waiting for a seal.',
].join('\n');

/** UUID of a domain given by UUID or by a name seen in fetch records or the store. */
function resolveDomain(config: Config, arg: string): string | undefined {
  const u = normaliseUuid(arg);
  if (u) return u;
  const byRecord = listFetchRecords(config.stateDir).find((r) => r.domain === arg);
  if (byRecord) return byRecord.uuid;
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(config.logRoot);
  } catch {
    return undefined;
  }
  for (const e of entries) {
    const id = normaliseUuid(e);
    if (!id || id !== e) continue;
    const dir = openDomainDir(config, id);
    if (!dir) continue;
    try {
      if (currentName(readDomainState(dir, id)) === arg) return id;
    } catch {
      // unreadable domain.json: not this one
    } finally {
      dir.close();
    }
  }
  return undefined;
}

interface Args {
  domain?: string;
  all: boolean;
  from?: string;
  job: boolean;
  quiet: boolean;
}

const OPTIONS: OptionTable = {
  all: { type: 'boolean' },
  job: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  from: { type: 'string' },
};

function parseArgs(argv: string[] | ParsedArgs): Args {
  const args = Array.isArray(argv) ? parseCommandLine(argv, OPTIONS) : argv;
  const job = flagOpt(args, 'job');
  const out: Args = { all: flagOpt(args, 'all'), job, quiet: job || flagOpt(args, 'quiet') };
  const from = stringOpt(args, 'from');
  if (from !== undefined) {
    if (!from) throw new UsageError('--from needs a host');
    out.from = from;
  }
  if (args.positionals.length > 1)
    throw new UsageError(`unexpected argument ${args.positionals[1] as string}`);
  if (args.positionals[0] !== undefined) out.domain = args.positionals[0];
  if (out.all === (out.domain !== undefined)) throw new UsageError('give one DOMAIN or --all');
  if (out.all && out.from) throw new UsageError('--from goes with one DOMAIN, not --all');
  if (out.from !== undefined && !isPeerName(out.from))
    throw new UsageError(`bad host name ${JSON.stringify(out.from)}`);
  return out;
}

export const syncCommand: Command = {
  usage: USAGE,
  options: OPTIONS,
  async run(args, ctx) {
    const a = parseArgs(args);
    const { io } = ctx;
    const { config } = ctx.config();
    const say = (line: string) => {
      if (!a.quiet) io.stdout.write(line + '\n');
    };
    let uuids: string[];
    if (a.all) {
      uuids = listFetchRecords(config.stateDir)
        .filter((r) => fetchOwed(r))
        .map((r) => r.uuid);
      if (uuids.length === 0) {
        say('nothing to sync: every recorded fetch is complete');
        return EXIT.ok;
      }
    } else {
      const uuid = resolveDomain(config, a.domain as string);
      if (!uuid) {
        io.stderr.write(`virt-consolelog sync: unknown domain ${JSON.stringify(a.domain)} (give its UUID)\n`);
        return EXIT.notFound;
      }
      uuids = [uuid];
      const rec = readFetchRecord(config.stateDir, uuid);
      if (a.from || !rec) {
        const candidates = a.from ? [a.from] : fetchCandidates(config, undefined);
        if (candidates.length === 0) {
          io.stderr.write(
            `virt-consolelog sync: no fetch recorded for ${uuid} and no peers configured: give --from HOST\n`,
          );
          return EXIT.usage;
        }
        const now = new Date().toISOString();
        const fresh: FetchRecord = {
          uuid,
          ...(rec?.domain ? { domain: rec.domain } : {}),
          ...(a.from ? { previousHost: a.from } : {}),
          candidates,
          since: now,
          status: 'failed',
          // A manual fetch never saw the migration moment: completion is judged by the seal watermarks.
          attempts: Math.max(1, rec?.attempts ?? 0),
          segmentsFetched: rec?.segmentsFetched ?? 0,
          bytesFetched: rec?.bytesFetched ?? 0,
          updated: now,
          // An owed arrival's mark stays (decide-order.ts): its seals go after what this fetch brings.
          ...(fetchOwed(rec) && rec.sealsFrom !== undefined ? { sealsFrom: rec.sealsFrom } : {}),
        };
        writeFetchRecord(config.stateDir, fresh);
      }
    }
    let failed = 0;
    let pending = 0;
    for (const uuid of uuids) {
      try {
        const rec = await runFetch(
          config,
          uuid,
          { waitForSeal: a.job, log: (l) => say(`${uuid}: ${l}`) },
          // A job started by a hook yields to one already at work; a person waits a little for it.
          a.job || a.quiet ? 0 : config.transferTimeoutSeconds * 1000,
        );
        say(`${uuid}${rec.domain ? ` (${rec.domain})` : ''}: ${describeFetch(rec)}`);
        if (rec.status === 'failed') failed++;
        else if (fetchOwed(rec)) pending++;
      } catch (e) {
        if (e instanceof FetchBusyError && (a.job || a.quiet)) continue;
        failed++;
        if (!a.quiet) io.stderr.write(`virt-consolelog sync: ${uuid}: ${(e as Error).message}\n`);
      }
    }
    if (failed === 0 && pending === 0) return EXIT.ok;
    if (failed === uuids.length) return EXIT.failure;
    return EXIT.partial;
  },
};

export const _forTests = { resolveDomain, parseArgs };
