// The capture service (`virt-consolelog collect`) inside a lab host, as the packages run it: the
// plugin "as installed" is the hook and this service, which answers the hook's events (scale.ts,
// lifecycle.ts).
import { readlinkSync, statSync } from 'node:fs';
import { CLI_JS, type LabHost, type RunPromise } from '../../test/lab/harness.js';
import { sleep } from '../../test/lab/scenario.js';
import { readText } from './machine.js';
import { nodeEnv, type BenchNode } from './node.js';

/** The capture service's folder inside a lab host (the default: /run is private per lab host). */
export const HOOK_SERVER_DIR = '/run/virt-consolelog/hook-server';

export interface CaptureService {
  run: RunPromise;
  pid: number;
  /** The Node binary it runs (/proc/PID/exe). */
  exe: string;
  startedAt: string;
  readyMs: number;
  /** Its stderr so far. */
  log: () => string;
}

/**
 * `virt-consolelog collect` inside the lab host, as the package's unit runs it (the host's config, the
 * default folder for hook events, root, nice -5), on the bench's Node (VCL_BENCH_NODE with its libraries, else
 * the machine's). Ready once its requests FIFO and a pid file naming it are in the folder: the
 * launcher hands events over only then.
 */
export async function startCollect(host: LabHost, node: BenchNode): Promise<CaptureService> {
  let err = '';
  const t0 = Date.now();
  // Nice=-5, as the unit runs it (packaging/virt-consolelog-collect.service); nice execs Node, same pid.
  const run = host.exec(['nice', '-n', '-5', node.path, CLI_JS, 'collect'], {
    env: nodeEnv(node, {}) as Record<string, string>,
  });
  run.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  let ended = '';
  void run.then((r) => (ended = `ended (exit ${r.exitCode ?? '-'}, signal ${r.signal ?? '-'})`));
  const fifo = host.outside(`${HOOK_SERVER_DIR}/requests`);
  const pidFile = host.outside(`${HOOK_SERVER_DIR}/pid`);
  // nsenter enters the host's namespaces and execs Node: the pid file names this very process (a file an
  // earlier collect left does not).
  while (!(
    statSync(fifo, { throwIfNoEntry: false })?.isFIFO() && readText(pidFile).trim() === String(run.pid)
  )) {
    if (ended || Date.now() - t0 > 120_000) {
      run.kill('SIGKILL');
      throw new Error(
        `collect in ${host.name} ${ended || `did not listen in ${HOOK_SERVER_DIR} within 120 s`}: ${err.slice(0, 2000)}`,
      );
    }
    await sleep(50);
  }
  return {
    run,
    pid: run.pid as number,
    exe: readlinkSync(`/proc/${run.pid}/exe`),
    startedAt: new Date(t0).toISOString(),
    readyMs: Date.now() - t0,
    log: () => err,
  };
}

/** SIGTERM (as systemd stops the unit), up to 30 s, then SIGKILL; how it ended. */
export async function stopCollect(c: CaptureService): Promise<string> {
  c.run.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 30_000)));
  const r = await Promise.race([c.run, timeout]);
  clearTimeout(timer);
  if (r) return r.signal ? `ended by ${r.signal}` : `exit code ${r.exitCode}`;
  c.run.kill('SIGKILL');
  await c.run;
  return 'killed: still running 30 s after SIGTERM';
}
