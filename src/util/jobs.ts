// Jobs a hook leaves behind (history fetch, definition upgrade): the CLI they run and how they start.
import { existsSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The CLI bundle a job runs: $VIRT_CONSOLELOG_CLI, else virt-consolelog.mjs beside the running bundle
 * (this module sits in dist/ or /usr/lib/virt-consolelog/, or in their chunks/), else the checkout's
 * dist/ (tests run the sources), else /usr/bin/virt-consolelog.
 */
export function cliBundle(env: NodeJS.ProcessEnv, moduleUrl = import.meta.url): string {
  if (env.VIRT_CONSOLELOG_CLI) return env.VIRT_CONSOLELOG_CLI;
  const here = dirname(fileURLToPath(moduleUrl));
  for (const dir of [here, join(here, '..'), join(here, '../../dist')]) {
    const p = join(dir, 'virt-consolelog.mjs');
    if (existsSync(p)) return p;
  }
  return '/usr/bin/virt-consolelog';
}

/**
 * Starts a job in its own session with fds 0/1/2 on /dev/null, at the lowest CPU priority (nice 19),
 * and never waits for it: libvirt reads
 * the hook's stdout and stderr until EOF, so a child holding them would block the guest until it
 * exits. node:child_process rather than execa: nothing here reads or awaits the child, and loading
 * execa costs every hook run that starts a job about 18 ms (BENCHMARKS.md); it is imported here, not
 * at the top, so that runs that start no job do not load it either. argv array, no shell.
 */
export async function spawnDetached(
  file: string,
  args: readonly string[],
  opts: { env: NodeJS.ProcessEnv; cwd?: string },
): Promise<number | undefined> {
  const { spawn } = await import('node:child_process');
  const child = spawn(file, args, {
    detached: true,
    stdio: 'ignore',
    env: opts.env,
    cwd: opts.cwd ?? '/',
    shell: false,
  });
  // A failed spawn (ENOENT, EACCES) arrives as an event: the caller sees no pid, nothing throws later.
  child.on('error', () => undefined);
  child.unref();
  // Background work: it must not take CPU from the guest starts and migrations it follows.
  if (child.pid !== undefined) {
    try {
      setPriority(child.pid, 19);
    } catch {
      // Already gone, or not allowed: it simply runs at the normal priority.
    }
  }
  return child.pid;
}
