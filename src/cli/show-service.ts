// `show` answered by the capture service (packaging/cli-launcher.sh.in hands it a `show` whose output
// is not a terminal; src/hook-server/server.ts asks here): which runs it takes, and running one
// in-process. Only reads whose size the command line bounds (-n, -c, --list-boots), never --follow,
// --all or --grep (which may read a whole history): the service captures every guest's console on
// the same thread. And only where its answer is the command's own: the same time zone and files.
import { isAbsolute } from 'node:path';
import { Readable } from 'node:stream';
import { OutputBuffer, type CommandAnswerer, type RequestOutput } from '../hook-server/server.js';
import { showCommand } from './commands/show.js';
import { runCommand } from './run-command.js';
import { parseCommandLine } from './options.js';
import { parseShowArgs, SHOW_OPTIONS } from './show-print.js';

/** Largest -c answered: an OpenStack console log asks for 100 KiB at most (its default 1 MiB cap). */
export const SERVED_MAX_BYTES = 1024 * 1024;
/** Largest -n answered. */
export const SERVED_MAX_LINES = 10_000;
/** Largest output answered (lines can be long): past it the read stops and the command runs itself. */
export const SERVED_MAX_OUTPUT = 16 * 1024 * 1024;

/** Variables whose value changes what `show` prints or reads besides its config (main takes that). */
const SAME_AS_SERVICE = ['TZ', 'VIRT_CONSOLELOG_VIRTLOGD_CONF'] as const;

/**
 * Why the command must run this `show` itself (undefined: the service answers it). `argv` is the
 * command's (`show` first), `env` its environment, `own` the service's. Pure.
 */
export function whyShowNotServed(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  own: NodeJS.ProcessEnv,
): string | undefined {
  if (argv[0] !== 'show') return 'not a show';
  let o: ReturnType<typeof parseShowArgs>;
  try {
    const parsed = parseCommandLine(argv.slice(1), SHOW_OPTIONS);
    if (parsed.values.help === true) return '--help';
    const config = parsed.values.config;
    // Relative to the command's folder, which the service does not know.
    if (typeof config === 'string' && !isAbsolute(config)) return 'a relative --config';
    o = parseShowArgs(parsed);
  } catch {
    return 'a bad command line (the command says what is wrong)';
  }
  if (o.follow) return '--follow';
  if (o.all) return '--all';
  if (o.grep !== undefined) return '--grep';
  const bounded =
    o.listBoots ||
    (o.bytes !== undefined && o.bytes <= SERVED_MAX_BYTES) ||
    (o.lines !== undefined && o.lines <= SERVED_MAX_LINES);
  if (!bounded) return `neither -n <= ${SERVED_MAX_LINES} nor -c <= ${SERVED_MAX_BYTES}`;
  const conf = env.VIRT_CONSOLELOG_CONFIG;
  if (conf && !isAbsolute(conf)) return 'a relative VIRT_CONSOLELOG_CONFIG';
  for (const name of SAME_AS_SERVICE) if (env[name] !== own[name]) return `another ${name}`;
  return undefined;
}

/** Runs `show` as the command would into a pipe; undefined when its output passed `limit` bytes. */
export async function serveShow(
  argv: string[],
  env: NodeJS.ProcessEnv,
  limit = SERVED_MAX_OUTPUT,
): Promise<RequestOutput | undefined> {
  const out = new OutputBuffer(limit);
  const err = new OutputBuffer(limit);
  // argv[0] is `show` (whyShowNotServed): the command itself, as main would run it.
  const io = { stdin: Readable.from([]), stdout: out, stderr: err, env, isTTY: false };
  const code = await runCommand('show', showCommand, argv.slice(1), io);
  if (out.over || err.over) return undefined;
  return { code, out: out.data(), err: err.data() };
}

/** The capture service's answerer of the command's `show` (src/cli/commands/collect.ts). */
export const showAnswerer: CommandAnswerer = {
  declines: (argv, env) => whyShowNotServed(argv, env, process.env),
  run: serveShow,
};
