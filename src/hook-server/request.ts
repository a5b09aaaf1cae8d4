// What a launcher hands the capture service for one request (packaging/ask-service.sh): a line with
// its shell's pid on the requests FIFO, and beside it PID.argv (a hook event: the hook's arguments,
// each ending in NUL) or PID.cli (the command's `show`: its arguments), PID.env (`env -0`), PID.stdin
// (the domain XML, empty for the command; whoever renames it runs the request: the service to
// PID.taken, the launcher's watchdog to PID.mine) and PID.reply (a FIFO: the exit code, after PID.out
// and PID.err hold the request's stdout and stderr; nothing when not run).
import { posix } from 'node:path';

/** Default folder of the requests FIFO; VIRT_CONSOLELOG_HOOK_SERVER names another, or 0 turns it off. */
export const HOOK_SERVER_DIR = '/run/virt-consolelog/hook-server';
export const REQUESTS_FIFO = 'requests';
export const SERVER_PID_FILE = 'pid';

/** The folder the service listens in, or undefined when VIRT_CONSOLELOG_HOOK_SERVER=0. */
export function hookServerDir(env: NodeJS.ProcessEnv): string | undefined {
  const v = env.VIRT_CONSOLELOG_HOOK_SERVER;
  if (v === '0') return undefined;
  return v ? posix.resolve(v) : HOOK_SERVER_DIR;
}

/** A request line is a pid and nothing else: the file names below are built from it, never from text. */
export function parseRequestLine(line: string): number | undefined {
  return /^[1-9][0-9]{0,9}$/.test(line) ? Number(line) : undefined;
}

export function requestFiles(dir: string, pid: number) {
  const base = posix.join(dir, String(pid));
  return {
    argv: `${base}.argv`,
    cli: `${base}.cli`,
    env: `${base}.env`,
    stdin: `${base}.stdin`,
    taken: `${base}.taken`,
    reply: `${base}.reply`,
    out: `${base}.out`,
    err: `${base}.err`,
  };
}

/** The launcher pid a file of the folder belongs to (PID.argv, PID.stdin, ...), else undefined. */
export function requestOwner(name: string): number | undefined {
  const m = /^([1-9][0-9]{0,9})\.(argv|cli|env|stdin|taken|mine|reply|out|err)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** NUL-terminated fields (printf '%s\0', env -0); a last field without its NUL is cut, so dropped. */
export function splitNul(data: Buffer): string[] {
  const fields = data.toString('utf8').split('\0');
  fields.pop();
  return fields;
}

/** `env -0` output as an environment; entries without '=' are not variables and are left out. */
export function parseEnv(data: Buffer): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const entry of splitNul(data)) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}
