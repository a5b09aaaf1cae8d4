// Shared by `enable` and `disable`: domain selection, --dry-run, --connect, output, exit code.
import type { Config } from '../../config/schema.js';
import { clearOptOut, setOptOut } from '../../definitions/optout.js';
import type { DomainResult, RunOptions } from '../../definitions/operations.js';
import { listPersistent, uriFrom } from '../../definitions/virsh.js';
import { EXIT, UsageError, type CliContext } from '../command.js';

export interface DefinitionArgs {
  domains: string[];
  all: boolean;
  dryRun: boolean;
  connect?: string;
}

export function parseDefinitionArgs(args: string[]): DefinitionArgs {
  const out: DefinitionArgs = { domains: [], all: false, dryRun: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--all') out.all = true;
    else if (a === '--dry-run' || a === '-n') out.dryRun = true;
    else if (a === '--connect' || a === '-c') {
      const v = args[++i];
      if (!v) throw new UsageError(`${a} needs a libvirt URI`);
      out.connect = v;
    } else if (a.startsWith('--connect=')) out.connect = a.slice('--connect='.length);
    else if (a === '--') {
      out.domains.push(...args.slice(i + 1));
      break;
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else out.domains.push(a);
  }
  if (out.all && out.domains.length) throw new UsageError('give domains or --all, not both');
  if (!out.all && !out.domains.length) throw new UsageError('no domain given (name, UUID, or --all)');
  return out;
}

export async function runDefinitions(
  args: string[],
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
  --dry-run, -n      print a unified diff of the definition instead of changing it
  --connect, -c URI  libvirt URI (default: $LIBVIRT_DEFAULT_URI, else virsh's default)
  --help             this help`;
