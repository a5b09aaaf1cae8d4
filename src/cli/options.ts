// One command-line grammar for every command, on Node's util.parseArgs (Node >= 18.19: no
// allowNegative, no optional values). What parseArgs lacks is done by normalising the arguments
// first: every option that takes a value becomes `--name=value` (so values may start with "-",
// as in `--since -2h` or `-b -1`), and `-b`/`--boot` takes its value only when one follows.
import { parseArgs } from 'node:util';
import { UsageError, type OptionSpec, type OptionTable, type ParsedArgs } from './command.js';

export type { OptionSpec, OptionTable, ParsedArgs } from './command.js';

/** Every short option of the CLI and the one long option it stands for, in every command. */
export const SHORT_OPTIONS: Readonly<Record<string, string>> = {
  h: 'help',
  n: 'lines',
  c: 'bytes',
  b: 'boot',
  f: 'follow',
  o: 'output',
  r: 'reverse',
  g: 'grep',
  a: 'raw',
  q: 'quiet',
  S: 'since',
  U: 'until',
};

/** Options every command accepts, anywhere on the line. */
export const GLOBAL_OPTIONS: OptionTable = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** A boot selector as journalctl takes it: a number (also negative) or a boot id. */
export const isBootSelector = (v: string): boolean => /^[-+]?\d+$/.test(v) || /^[0-9a-f]{6,}$/.test(v);

function longOf(table: OptionTable, letter: string): string | undefined {
  return Object.entries(table).find(([, s]) => s.short === letter)?.[0];
}

/** Rewrites argv so that parseArgs sees every value inline (`--name=value`); pure. */
export function normaliseArgs(args: readonly string[], table: OptionTable): string[] {
  const out: string[] = [];
  // A value-taking token (say a boot id) is a value only if a positional is left for the command.
  const optional = (spec: OptionSpec, i: number): string | undefined => {
    const next = args[i + 1];
    if (next === undefined || !spec.optionalValue?.(next)) return undefined;
    if (/^[-+]?\d+$/.test(next)) return next;
    return countPositionals(args.slice(i + 2), table) + countPositionals(out, table) > 0 ? next : undefined;
  };
  for (let i = 0; i < args.length; i++) {
    const t = args[i] as string;
    if (t === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (t.startsWith('--')) {
      const name = t.slice(2);
      const spec = table[name];
      if (spec?.type !== 'string') out.push(t);
      else if (spec.optionalValue) {
        const v = optional(spec, i);
        if (v !== undefined) i++;
        out.push(`--${name}=${v ?? ''}`);
      } else if (i + 1 < args.length) out.push(`--${name}=${args[++i] as string}`);
      else out.push(t);
      continue;
    }
    if (t.startsWith('-') && t.length > 1) {
      for (let j = 1; j < t.length; j++) {
        const letter = t[j] as string;
        const long = longOf(table, letter);
        const spec = long ? table[long] : undefined;
        if (!long || !spec) {
          out.push(`-${letter}`);
          continue;
        }
        if (spec.type === 'boolean') {
          out.push(`--${long}`);
          continue;
        }
        const rest = t.slice(j + 1);
        if (rest) out.push(`--${long}=${rest}`);
        else if (spec.optionalValue) {
          const v = optional(spec, i);
          if (v !== undefined) i++;
          out.push(`--${long}=${v ?? ''}`);
        } else if (i + 1 < args.length) out.push(`--${long}=${args[++i] as string}`);
        else out.push(`--${long}`);
        break;
      }
      continue;
    }
    out.push(t);
  }
  return out;
}

function countPositionals(args: readonly string[], table: OptionTable): number {
  let n = 0;
  for (let i = 0; i < args.length; i++) {
    const t = args[i] as string;
    if (t === '--') return n + args.length - i - 1;
    if (t.startsWith('--')) {
      if (!t.includes('=') && table[t.slice(2)]?.type === 'string') i++;
    } else if (t.startsWith('-') && t.length > 1) {
      const long = longOf(table, t[t.length - 1] as string);
      if (t.length === 2 && long && table[long]?.type === 'string') i++;
    } else n++;
  }
  return n;
}

/** Parses a command's arguments (options anywhere, GLOBAL_OPTIONS included); UsageError on misuse. */
export function parseCommandLine(args: readonly string[], table: OptionTable): ParsedArgs {
  const all = { ...GLOBAL_OPTIONS, ...table };
  const options = Object.fromEntries(
    Object.entries(all).map(([name, s]) => [name, { type: s.type, ...(s.short ? { short: s.short } : {}) }]),
  );
  try {
    const r = parseArgs({
      args: normaliseArgs(args, all),
      options,
      strict: true,
      allowPositionals: true,
    });
    return { values: { ...r.values } as ParsedArgs['values'], positionals: r.positionals };
  } catch (e) {
    throw new UsageError(describeParseError(e as Error & { code?: string }));
  }
}

/** parseArgs' messages are long and suggest things that do not apply here: one short line instead. */
function describeParseError(e: Error & { code?: string }): string {
  const opt = /'(-[^' ,]*)/.exec(e.message)?.[1] ?? '';
  const long = /--([a-z][a-z0-9-]*)/.exec(e.message)?.[0] ?? opt;
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${opt}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(e.message) ? `${long} takes no value` : `${long} needs a value`;
    default:
      return e.message;
  }
}

export function stringOpt(a: ParsedArgs, name: string): string | undefined {
  const v = a.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flagOpt(a: ParsedArgs, name: string): boolean {
  return a.values[name] === true;
}

/** Usage error unless the number of positionals is within [min, max]. */
export function expectPositionals(a: ParsedArgs, min: number, max: number, what: string): string[] {
  const p = a.positionals;
  if (p.length < min) throw new UsageError(`${what} missing`);
  if (p.length > max) throw new UsageError(`unexpected argument ${p[max] as string}`);
  return p;
}
