// A pager for output to a terminal, chosen as journalctl does: $SYSTEMD_PAGER, else $PAGER, else
// less; "" or "cat" means none. less gets LESS=FRSXMK ($SYSTEMD_LESS overrides): quit if one
// screen, raw colour, no init, quit on Ctrl-C. node:child_process, not execa: `show` loads no
// execa (its start-up cost, test/cli/registry.test.ts).
import type { Writable } from 'node:stream';

export interface PagerPlan {
  argv: string[];
  env: NodeJS.ProcessEnv;
}

/** Which pager to run, or undefined for none (pure). The command is split on blanks, no shell. */
export function choosePager(env: NodeJS.ProcessEnv, isTTY: boolean, noPager: boolean): PagerPlan | undefined {
  if (!isTTY || noPager) return undefined;
  const setting = env.SYSTEMD_PAGER ?? env.PAGER;
  const command = setting === undefined ? 'less' : setting.trim();
  if (command === '' || command === 'cat') return undefined;
  const argv = command.split(/\s+/);
  return {
    argv,
    env: {
      ...env,
      LESS: env.SYSTEMD_LESS ?? 'FRSXMK',
      ...(env.LESSCHARSET === undefined ? { LESSCHARSET: 'utf-8' } : {}),
    },
  };
}

export interface Pager {
  stdin: Writable;
  /** Ends the pager's input and waits until the person quits it. */
  close(): Promise<void>;
}

/** Starts the pager; undefined when it cannot run (not installed): then print directly. */
export async function startPager(plan: PagerPlan): Promise<Pager | undefined> {
  // Loaded here, not at the top: `show`'s start-up snapshot (src/cli/snapshot.ts) then holds no
  // child_process, which Node does not support in snapshots.
  const { spawn } = await import('node:child_process');
  const child = spawn(plan.argv[0] as string, plan.argv.slice(1), {
    stdio: ['pipe', 'inherit', 'inherit'],
    env: plan.env,
  });
  const started = await new Promise<boolean>((resolve) => {
    child.once('spawn', () => resolve(true));
    child.once('error', () => resolve(false));
  });
  if (!started) return undefined;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // A pager quit early gives EPIPE on our writes: they reject, and the command ends quietly.
  child.stdin.on('error', () => undefined);
  return {
    stdin: child.stdin,
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}
