// The shape of a CLI command; each lives in src/cli/commands/<name>.ts and is listed in registry.ts.
import type { LoadedConfig } from '../config/load.js';

/** One option of a command (parsed by options.ts on util.parseArgs). */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** One letter; must mean the same option in every command (SHORT_OPTIONS). */
  short?: string;
  /** The value may be left out (`-b`, `-b -1`, `--boot=-2`): then it is "". */
  optionalValue?: (next: string) => boolean;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface CliIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal (pager, colour and guest-byte sanitising depend on it). */
  isTTY?: boolean;
}

export interface CliContext {
  io: CliIO;
  /** Loaded lazily: commands that need no config (help, rewrite from flags) never read it. */
  config(): LoadedConfig;
  /** Value of the global --config flag, if given. */
  configFlag: string | undefined;
}

/** What the registry knows of a command without loading its module: enough for `--help` and dispatch. */
export interface CommandEntry {
  name: string;
  summary: string;
  /** Internal commands (run by the plugin itself) are left out of `virt-consolelog --help`. */
  hidden?: boolean;
  /** Loads the command's module: its code and dependencies load only when it is used. */
  load(): Promise<Command>;
}

/** A command's module: its help and what it does (name and summary are in registry.ts). */
export interface Command {
  /** Full help text printed by `virt-consolelog COMMAND --help`. */
  usage: string;
  /** Its options (besides GLOBAL_OPTIONS): main parses the line with them, options anywhere. */
  options: OptionTable;
  /** Its arguments are words of a request, not options (serve-export): all passed as positionals. */
  rawArgs?: boolean;
  run(args: ParsedArgs, ctx: CliContext): Promise<number>;
}

/** Exit codes of the CLI (documented in the man page and README). */
export const EXIT = {
  ok: 0,
  /** The operation failed (I/O error, peer unreachable, ...). */
  failure: 1,
  /** Bad command line or bad input (malformed XML, bad config value). */
  usage: 2,
  /** The domain or thing asked for does not exist. */
  notFound: 3,
  /** Partly done: some domains or segments failed (enable --all, sync, prune). */
  partial: 4,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}
