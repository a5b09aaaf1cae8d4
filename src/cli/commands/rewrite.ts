// virt-consolelog rewrite: domain XML on stdin -> rewritten XML on stdout, for tools that
// generate the XML themselves (the same rewrite the hook applies on migrate/restore).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { getHostFacts } from '../../host/facts.js';
import { isSafeComponent, normaliseUuid } from '../../store/layout.js';
import { XmlRewriteError, addDomainUuid, rewriteDomainXml, type RewriteOptions } from '../../xml/rewrite.js';
import { EXIT, UsageError, type Command } from '../command.js';
import { flagOpt, stringOpt, type OptionTable, type ParsedArgs } from '../options.js';

const USAGE = `usage: virt-consolelog rewrite [OPTIONS] < domain.xml > rewritten.xml

Rewrites domain XML so that every serial port and console keeps an append-mode log in the
store (type='file' becomes pty so virsh console works, append='off' becomes 'on'), exactly as
the hook does on migrate and restore. Everything else in the document is left byte for byte.

Options:
  --host NAME       host the logs are placed for (default: host_name from the config, else
                    the system host name)
  --mode MODE       migrate, restore or define (default: define)
  --uuid-from-xml   take the domain UUID from the XML's <uuid> (the default)
  --uuid UUID       for XML without a <uuid> yet: add <uuid>UUID</uuid> so the domain and its
                    logs share it (refused if the XML already has a different one)
  --dry-run         print a unified diff of what would change instead of the XML
  --help            this help

Exit codes: 0 ok (also when nothing changed), 1 failure, 2 bad command line or malformed XML
(the message names the problem).`;

interface RewriteArgs {
  host?: string;
  mode: RewriteOptions['mode'];
  uuid?: string;
  dryRun: boolean;
}

const OPTIONS: OptionTable = {
  host: { type: 'string' },
  mode: { type: 'string' },
  uuid: { type: 'string' },
  'uuid-from-xml': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
};

function parseRewriteArgs(args: ParsedArgs): RewriteArgs {
  const out: RewriteArgs = { mode: 'define', dryRun: flagOpt(args, 'dry-run') };
  const value = (flag: string): string | undefined => {
    const v = stringOpt(args, flag);
    if (v === '') throw new UsageError(`--${flag} needs a value`);
    return v;
  };
  if (args.positionals.length)
    throw new UsageError(`unexpected argument "${args.positionals[0] as string}" (XML is read from stdin)`);
  const h = value('host');
  if (h !== undefined) {
    if (!isSafeComponent(h)) throw new UsageError(`--host ${JSON.stringify(h)} cannot name a store folder`);
    out.host = h;
  }
  const m = value('mode');
  if (m !== undefined) {
    if (m !== 'migrate' && m !== 'restore' && m !== 'define')
      throw new UsageError(`--mode must be migrate, restore or define, got "${m}"`);
    out.mode = m;
  }
  const u = value('uuid');
  if (u !== undefined) {
    const n = normaliseUuid(u);
    if (!n) throw new UsageError(`--uuid ${JSON.stringify(u)} is not a UUID`);
    out.uuid = n;
  }
  return out;
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/** Unified diff through diff(1) (diffutils is on every Debian and RHEL host). */
async function unifiedDiff(before: string, after: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'virt-consolelog-'));
  try {
    const a = join(dir, 'a.xml');
    const b = join(dir, 'b.xml');
    await writeFile(a, before, { flag: 'wx', mode: 0o600 });
    await writeFile(b, after, { flag: 'wx', mode: 0o600 });
    const r = await execa(
      'diff',
      ['-u', '--label', 'domain.xml', '--label', 'domain.xml (rewritten)', a, b],
      {
        reject: false,
        stdin: 'ignore',
      },
    );
    if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`diff failed: ${String(r.stderr)}`);
    return String(r.stdout) + (r.stdout ? '\n' : '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const rewriteCommand: Command = {
  usage: USAGE,
  options: OPTIONS,
  async run(args, ctx) {
    const opts = parseRewriteArgs(args);
    const input = await readAll(ctx.io.stdin);
    const { config } = ctx.config();
    let xml = input;
    try {
      if (opts.uuid) xml = addDomainUuid(xml, opts.uuid);
      const facts = await getHostFacts(config, xml);
      if (opts.host) facts.host = opts.host;
      const result = rewriteDomainXml(xml, { config, facts, mode: opts.mode });
      for (const w of result.warnings) ctx.io.stderr.write(`virt-consolelog rewrite: ${w}\n`);
      if (opts.dryRun) ctx.io.stdout.write(result.xml === input ? '' : await unifiedDiff(input, result.xml));
      else ctx.io.stdout.write(result.xml);
      return EXIT.ok;
    } catch (e) {
      if (e instanceof XmlRewriteError) {
        ctx.io.stderr.write(`virt-consolelog rewrite: ${e.message}\n`);
        return EXIT.usage;
      }
      throw e;
    }
  },
};
