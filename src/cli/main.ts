// virt-consolelog CLI entry: global flags, then one command from the registry.
import { describeConfigError, loadConfig, type LoadedConfig } from '../config/load.js';
import { EXIT, UsageError, type CliContext, type CliIO } from './command.js';
import { parseCommandLine, type ParsedArgs } from './options.js';
import { COMMANDS } from './registry.js';
import { describeAccessError } from './store-access.js';
import { isClosedPipe } from '../terminal/pipe.js';

declare const VIRT_CONSOLELOG_VERSION: string;
export const VERSION = typeof VIRT_CONSOLELOG_VERSION === 'string' ? VIRT_CONSOLELOG_VERSION : 'dev';

export function mainUsage(): string {
  const listed = COMMANDS.filter((c) => !c.hidden);
  const width = Math.max(...listed.map((c) => c.name.length));
  return [
    'usage: virt-consolelog [--config FILE] COMMAND [ARGS...]  (options go anywhere)',
    '',
    'Guest console logging for libvirt hosts.',
    '',
    'Commands:',
    ...listed.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    '  --config FILE  configuration file (default: $VIRT_CONSOLELOG_CONFIG or /etc/virt-consolelog/virt-consolelog.conf)',
    '  --help, -h     this help; COMMAND --help for a command',
    '  --version      print the version',
    '',
    'Exit codes: 0 ok, 1 failure, 2 usage or bad input, 3 not found, 4 partly done.',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  let configFlag: string | undefined;
  const args = [...argv];
  while (args.length && args[0]?.startsWith('-')) {
    const a = args.shift() as string;
    if (a === '--version') {
      io.stdout.write(`virt-consolelog ${VERSION}\n`);
      return EXIT.ok;
    } else if (a === '--help' || a === '-h') {
      io.stdout.write(mainUsage() + '\n');
      return EXIT.ok;
    } else if (a === '--config') {
      configFlag = args.shift();
      if (!configFlag) return usageError(io, '--config needs a file');
    } else if (a.startsWith('--config=')) {
      configFlag = a.slice('--config='.length);
    } else {
      return usageError(io, `unknown option ${a}`);
    }
  }
  const name = args.shift();
  if (!name) return usageError(io, 'no command given');
  if (name === 'help') {
    const target = COMMANDS.find((c) => c.name === args[0]);
    io.stdout.write((target ? (await target.load()).usage : mainUsage()) + '\n');
    return EXIT.ok;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) return usageError(io, `unknown command "${name}"`);
  const command = await entry.load();
  let parsed: ParsedArgs;
  try {
    parsed = command.rawArgs
      ? { values: { help: args.includes('--help') || args.includes('-h') }, positionals: args }
      : parseCommandLine(args, command.options);
  } catch (e) {
    if (e instanceof UsageError) return usageError(io, e.message, entry.name);
    throw e;
  }
  if (parsed.values.help === true) {
    io.stdout.write(command.usage + '\n');
    return EXIT.ok;
  }
  if (typeof parsed.values.config === 'string') configFlag = parsed.values.config;
  let loaded: LoadedConfig | undefined;
  const ctx: CliContext = {
    io,
    configFlag,
    config() {
      if (!loaded) {
        loaded = loadConfig(configFlag, io.env);
        for (const e of loaded.errors)
          io.stderr.write(`virt-consolelog: config: ${describeConfigError(e)}\n`);
      }
      return loaded;
    },
  };
  try {
    return await command.run(parsed, ctx);
  } catch (e) {
    if (e instanceof UsageError) return usageError(io, e.message, entry.name);
    // The reader went away (`| head`, a pager quit early): as journalctl, a quiet success.
    if (isClosedPipe(e)) return EXIT.ok;
    const denied = describeAccessError(e);
    if (denied) {
      io.stderr.write(`virt-consolelog ${entry.name}: ${denied}\n`);
      return EXIT.failure;
    }
    io.stderr.write(`virt-consolelog ${entry.name}: ${(e as Error).message}\n`);
    return EXIT.failure;
  }
}

function usageError(io: CliIO, message: string, command?: string): number {
  io.stderr.write(`virt-consolelog${command ? ` ${command}` : ''}: ${message}\n`);
  io.stderr.write(`Try 'virt-consolelog ${command ? `${command} ` : ''}--help'.\n`);
  return EXIT.usage;
}

/** This process as the CLI: its argv and stdio (the executable, src/cli/bin.ts, and its snapshot). */
export async function runCli(): Promise<void> {
  // A write into a closed pipe fails asynchronously on the stream: end quietly there too.
  for (const s of [process.stdout, process.stderr])
    s.on('error', (e) => {
      if (isClosedPipe(e)) process.exit(EXIT.ok);
      throw e;
    });
  process.exitCode = await main(process.argv.slice(2), {
    // Node builds process.stdin on first use (for a file, with fs streams: ms that `show` does not need).
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    isTTY: process.stdout.isTTY === true,
  });
}
