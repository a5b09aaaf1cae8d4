// Running one command on its arguments: option parsing, --help, the lazily loaded config, and the
// errors every command reports alike. Apart from main.ts so that the capture service can run `show`
// (show-service.ts) without the registry, which loads the service's own command.
import { describeConfigError, loadConfig, type LoadedConfig } from '../config/load.js';
import { EXIT, UsageError, type CliContext, type CliIO, type Command } from './command.js';
import { parseCommandLine, type ParsedArgs } from './options.js';
import { describeAccessError } from './store-access.js';
import { isClosedPipe } from '../terminal/pipe.js';

/** Runs `command` (named `name`) on `args`; `configFlag` is a global --config given before it. */
export async function runCommand(
  name: string,
  command: Command,
  args: string[],
  io: CliIO,
  configFlag?: string,
): Promise<number> {
  let parsed: ParsedArgs;
  try {
    parsed = command.rawArgs
      ? { values: { help: args.includes('--help') || args.includes('-h') }, positionals: args }
      : parseCommandLine(args, command.options);
  } catch (e) {
    if (e instanceof UsageError) return usageError(io, e.message, name);
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
    if (e instanceof UsageError) return usageError(io, e.message, name);
    // The reader went away (`| head`, a pager quit early): as journalctl, a quiet success.
    if (isClosedPipe(e)) return EXIT.ok;
    const denied = describeAccessError(e);
    if (denied) {
      io.stderr.write(`virt-consolelog ${name}: ${denied}\n`);
      return EXIT.failure;
    }
    io.stderr.write(`virt-consolelog ${name}: ${(e as Error).message}\n`);
    return EXIT.failure;
  }
}

export function usageError(io: CliIO, message: string, command?: string): number {
  io.stderr.write(`virt-consolelog${command ? ` ${command}` : ''}: ${message}\n`);
  io.stderr.write(`Try 'virt-consolelog ${command ? `${command} ` : ''}--help'.\n`);
  return EXIT.usage;
}
