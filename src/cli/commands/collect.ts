// virt-consolelog collect: the continuous capture service, in the foreground (systemd runs it).
import { EXIT, UsageError, type Command } from '../command.js';
import * as fs from 'node:fs';
import type { Config } from '../../config/schema.js';
import { isSharedFsType } from '../../capture/decide.js';
import { Collector } from '../../capture/service.js';
import { mountOf, parseMountinfo } from '../../doctor/gather.js';

const USAGE = `usage: virt-consolelog collect [--flush-ms MS] [--poll-ms MS]

Runs the capture service in the foreground until SIGTERM or SIGINT: one process for every guest of
this host. It follows each virtlogd log the store knows for this host (inotify, with a poll as
fallback), seals it into the store under the domain lock before virtlogd's next rollover can
delete it (the hooks' own seal: nothing twice, no gap, whoever runs first), and records when each
part of the log arrived, so that 'show -o short-iso' puts a time on every line. Every hour it
applies retention (domain_cap_bytes, retention_days). Its status is in
state_dir/capture/status.json ('status' and 'doctor' read it). Hooks work with or without it.

Options:
  --flush-ms MS  seal any unsealed output at least every MS ms, so that a store other hosts read
                 holds output up to MS ms before this host dies. Default: 2000 when log_root is on a
                 network file system (NFS, CephFS, ...), else 0 (seal only as virtlogd's rollover nears,
                 which keeps segments few)
  --poll-ms MS   full sweep of every log every MS ms besides inotify (default 1000)`;

function ms(args: string[], i: number, name: string): number {
  const v = args[i + 1];
  if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`${name} needs a number of milliseconds`);
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
  async run(args, ctx) {
    let flushMs: number | undefined;
    let pollMs: number | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === '--flush-ms') flushMs = ms(args, i++, a);
      else if (a === '--poll-ms') pollMs = Math.max(50, ms(args, i++, a));
      else throw new UsageError(`unknown argument ${a}`);
    }
    const { config } = ctx.config();
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    const collector = new Collector(config, {
      flushMs: flushMs ?? defaultFlushMs(config),
      ...(pollMs !== undefined ? { pollMs } : {}),
      signal: controller.signal,
      log: (m) => ctx.io.stderr.write(`virt-consolelog collect: ${m}\n`),
    });
    await collector.run();
    return EXIT.ok;
  },
};
