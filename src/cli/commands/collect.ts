// virt-consolelog collect: the continuous capture service, in the foreground (systemd runs it).
import * as fs from 'node:fs';
import { EXIT, UsageError, type Command } from '../command.js';
import { expectPositionals, stringOpt, type ParsedArgs } from '../options.js';
import type { Config } from '../../config/schema.js';
import { isSharedFsType } from '../../capture/decide.js';
import { Collector } from '../../capture/service.js';
import { mountOf, parseMountinfo } from '../../doctor/gather.js';
import { createJournaldSink } from '../../journald/sink.js';
import { hookServerDir } from '../../hook-server/request.js';
import type { HookServer } from '../../hook-server/server.js';

const USAGE = `usage: virt-consolelog collect [--flush-ms MS] [--poll-ms MS]

Runs the capture service in the foreground until SIGTERM or SIGINT: one process for every guest of
this host. It follows each virtlogd log the store knows for this host (inotify, with a poll as
fallback), seals it into the store under the domain lock before virtlogd's next rollover can
delete it (the hooks' own seal: nothing twice, no gap, whoever runs first), and records when each
part of the log arrived, so that 'show -o short-iso' puts a time on every line. Every hour it
applies retention (domain_cap_bytes, retention_days). With journald_forward = 1 (the default) it
also sends every whole guest line to the host's journal (journalctl VIRT_DOMAIN_NAME=NAME). Its
status is in state_dir/capture/status.json ('status' and 'doctor' read it). While it runs it also
answers the hook's events, so that they start no Node, and root's short 'show' reads into a pipe
or file (-n, -c, --list-boots; VIRT_CONSOLELOG_HOOK_SERVER=0 in /etc/default/virt-consolelog turns
both off). Hooks and 'show' work with or without it: without it, each starts Node.

Options:
  --flush-ms MS  seal any unsealed output at least every MS ms, so that a store other hosts read
                 holds output up to MS ms before this host dies. Default: 2000 when log_root is on a
                 network file system (NFS, CephFS, ...), else 0 (seal only as virtlogd's rollover nears,
                 which keeps segments few)
  --poll-ms MS   full sweep of every log every MS ms besides inotify (default 1000)`;

function ms(args: ParsedArgs, name: string): number | undefined {
  const v = stringOpt(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} needs a number of milliseconds`);
  return Number(v);
}

/** 2000 ms when log_root lies on a network file system (other hosts read the store), else 0. */
function defaultFlushMs(config: Config): number {
  try {
    const mount = mountOf(
      parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')),
      fs.realpathSync(config.logRoot),
    );
    return mount && isSharedFsType(mount.fsType) ? 2000 : 0;
  } catch {
    return 0;
  }
}

export const collectCommand: Command = {
  usage: USAGE,
  options: { 'flush-ms': { type: 'string' }, 'poll-ms': { type: 'string' } },
  async run(args, ctx) {
    expectPositionals(args, 0, 0, 'nothing');
    const flushMs = ms(args, 'flush-ms');
    const poll = ms(args, 'poll-ms');
    const pollMs = poll === undefined ? undefined : Math.max(50, poll);
    const { config } = ctx.config();
    const log = (m: string) => void ctx.io.stderr.write(`virt-consolelog collect: ${m}\n`);
    const controller = new AbortController();
    const stop = () => controller.abort();
    // Kept for the whole run (not once): with no handler of ours left, proper-lockfile's exit hook
    // (signal-exit) would kill the process again on the signal, before the service stopped cleanly.
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // Hook events are answered here while it runs (VIRT_CONSOLELOG_HOOK_SERVER=0: not).
    const dir = hookServerDir(process.env);
    // The command's bounded `show` reads too (src/cli/show-service.ts).
    let hooks: HookServer | undefined;
    if (dir) {
      const server = await import('../../hook-server/server.js');
      const { showAnswerer } = await import('../show-service.js');
      hooks = await server.HookServer.start({ dir, log, command: showAnswerer });
    }
    const collector = new Collector(config, {
      flushMs: flushMs ?? defaultFlushMs(config),
      ...(pollMs !== undefined ? { pollMs } : {}),
      signal: controller.signal,
      log,
      // Each whole guest line to the host journal (docs/JOURNAL.md); off: no sink, no line reading.
      ...(config.journaldForward ? { sinks: [createJournaldSink({ config, log })] } : {}),
      hookEvents: () =>
        hooks
          ? { answeredIn: dir as string, answered: hooks.answered }
          : { notAnswered: dir ? 'see the service log' : 'VIRT_CONSOLELOG_HOOK_SERVER=0' },
    });
    try {
      await collector.run();
    } finally {
      await hooks?.close();
    }
    return EXIT.ok;
  },
};
