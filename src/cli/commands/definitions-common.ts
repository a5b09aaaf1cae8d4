// Shared by `enable` and `disable`: domain selection, --dry-run, --connect, output, exit code.
import type { Config } from '../../config/schema.js';
import { clearOptOut, setOptOut } from '../../definitions/optout.js';
import type { DomainResult, RunOptions } from '../../definitions/operations.js';
import { listPersistent, uriFrom } from '../../definitions/virsh.js';
import { EXIT, UsageError, type CliContext } from '../command.js';
import { flagOpt, parseCommandLine, stringOpt, type OptionTable, type ParsedArgs } from '../options.js';

export interface DefinitionArgs {
  domains: string[];
  all: boolean;
  dryRun: boolean;
  connect?: string;
}

// -n and -c are `show`'s --lines and --bytes in every command: --dry-run and --connect are long only.
export const DEFINITION_OPTIONS: OptionTable = {
  all: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  connect: { type: 'string' },
};

export function parseDefinitionArgs(argv: string[] | ParsedArgs): DefinitionArgs {
  const args = Array.isArray(argv) ? parseCommandLine(argv, DEFINITION_OPTIONS) : argv;
  const out: DefinitionArgs = {
    domains: [...args.positionals],
    all: flagOpt(args, 'all'),
    dryRun: flagOpt(args, 'dry-run'),
  };
  const connect = stringOpt(args, 'connect');
  if (connect !== undefined) {
    if (!connect) throw new UsageError('--connect needs a libvirt URI');
    out.connect = connect;
  }
  if (out.all && out.domains.length) throw new UsageError('give domains or --all, not both');
  if (!out.all && !out.domains.length) throw new UsageError('no domain given (name, UUID, or --all)');
  return out;
}

export async function runDefinitions(
  args: ParsedArgs,
  ctx: CliContext,
  action: 'enable' | 'disable',
  op: (domain: string, config: Config, opts: RunOptions) => Promise<DomainResult>,
): Promise<number> {
  const parsed = parseDefinitionArgs(args);
  const { config } = ctx.config();
  const opts: RunOptions = {
    dryRun: parsed.dryRun,
    virsh: { uri: uriFrom(parsed.connect, ctx.io.env), env: ctx.io.env },
  };
  const domains = parsed.all ? await listPersistent(opts.virsh) : parsed.domains;
  if (parsed.all && domains.length === 0) {
    ctx.io.stdout.write('no persistent domains\n');
    return EXIT.ok;
  }
  const results: DomainResult[] = [];
  for (const domain of domains) {
    const r = await op(domain, config, opts);
    results.push(r);
    if (r.diff) ctx.io.stdout.write(r.diff.endsWith('\n') ? r.diff : `${r.diff}\n`);
    const bad = r.outcome === 'failed' || r.outcome === 'not-found';
    (bad ? ctx.io.stderr : ctx.io.stdout).write(`${bad ? `virt-consolelog ${action}: ` : ''}${r.message}\n`);
    // A disabled domain stays disabled: the automatic mode leaves it alone until `enable`.
    if (!parsed.dryRun && !bad) {
      const uuid = r.uuid;
      if (uuid) {
        try {
          if (action === 'disable') await setOptOut(config, uuid);
          else await clearOptOut(config, uuid);
        } catch (e) {
          ctx.io.stderr.write(
            `virt-consolelog ${action}: ${domain}: automatic mode opt-out: ${(e as Error).message}\n`,
          );
        }
      }
    }
  }
  const failed = results.filter((r) => r.outcome === 'failed' || r.outcome === 'not-found');
  if (failed.length === 0) return EXIT.ok;
  if (failed.length < results.length) return EXIT.partial;
  return failed.every((r) => r.outcome === 'not-found') ? EXIT.notFound : EXIT.failure;
}

export const COMMON_OPTIONS = `Options:
  --all              every persistent domain of this host
  --dry-run          print a unified diff of the definition instead of changing it
  --connect URI      libvirt URI (default: $LIBVIRT_DEFAULT_URI, else virsh's default)
  --help             this help`;
