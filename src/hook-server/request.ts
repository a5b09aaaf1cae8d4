// What the hook's launcher hands the capture service for one event (packaging/hook-launcher.sh.in):
// a line with its shell's pid on the requests FIFO, and beside it PID.argv (the hook's arguments,
// each ending in NUL), PID.env (`env -0`), PID.claim (renamed by whoever runs the event) and PID.reply
// (a FIFO: the exit code, or nothing when the service did not take the event).
import { posix } from 'node:path';

/** Default folder of the requests FIFO; VIRT_CONSOLELOG_HOOK_SERVER names another, or 0 turns it off. */
export const HOOK_SERVER_DIR = '/run/virt-consolelog/hook-server';
export const REQUESTS_FIFO = 'requests';
export const SERVER_PID_FILE = 'pid';
/** The launcher's fds holding libvirt's stdin, stdout and stderr (never redirected for a moment). */
export const CLIENT_FDS = { stdin: 9, stdout: 7, stderr: 8 } as const;

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
    env: `${base}.env`,
    claim: `${base}.claim`,
    taken: `${base}.taken`,
    reply: `${base}.reply`,
  };
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
