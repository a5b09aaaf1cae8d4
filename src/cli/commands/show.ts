// virt-consolelog show: everything a guest printed, oldest first, journalctl-like.
import type { Writable } from 'node:stream';
import { EXIT, type Command } from '../command.js';
import { HistoryError, openHistory, resolveOne } from '../../history/reader.js';
import { type LineSource } from '../show-output.js';
import { choosePager, startPager } from '../../terminal/pager.js';
import { assertStoreReadable } from '../store-access.js';
import { followAllDomains } from '../show-all.js';

import {
  SHOW_OPTIONS,
  parseShowArgs,
  planOutput,
  printDomain,
  readOptionsOf,
  type ShowArgs,
  type ShowSink,
} from '../show-print.js';

export { bootSeparator } from '../show-output.js';
export { SHOW_OPTIONS, parseShowArgs } from '../show-print.js';

const USAGE = `usage: virt-consolelog show [OPTIONS] DOMAIN
       virt-consolelog show --all [OPTIONS]

Prints everything DOMAIN (a name or a UUID; undefined domains too) printed on a serial or console,
oldest first: archived segments, virtlogd backups and live files, across restarts and hosts, with
a separator at each boot:  -- Boot <id> on <host> at <time> --
Options go before or after DOMAIN; --opt=value and --opt value are the same.

Options:
  -n, --lines N        only the last N lines
  -c, --bytes N        exactly the last N bytes of guest output, oldest first, without separators
                       (the OpenStack console-log contract: byte for byte, also on a terminal)
  -b, --boot [SEL]     one boot: 0 or nothing = newest, -1 the one before, ...; 1 = oldest; or a boot id
      --list-boots     list the boots (index, id, host, first and last time, bytes)
  -f, --follow         print the last 10 lines (or -n N), then keep printing new output (through
                       virtlogd rotation and restarts); Ctrl-C ends
  -S, --since TIME     only lines from TIME on (ISO 8601, or "-2h", "-30m", "-1d"); with -c, boots
                       still running at or after TIME
  -U, --until TIME     only lines up to TIME; with -c, boots started at or before TIME; with -f,
                       followed lines too (read past TIME: not printed, following goes on)
      --device DEV     serial0 (default), console1, parallel0 ...; default: serial0, else the first logged
  -o, --output MODE    short (default: guest output and boot separators), cat (guest output only),
                       short-iso (each line prefixed by its time, host and domain), short-iso-precise
                       (the same with milliseconds), json (one JSON object per line:
                       {"type":"boot",...} and {"type":"line","time","coarse",...,"text"})
      --json           the same as -o json
  -r, --reverse        newest line first (not with -f)
  -g, --grep PATTERN   only lines matching PATTERN (a regular expression; case-insensitive unless
                       it has a capital letter); with -n, the last N matching lines
      --all            every domain of this host's store (each device), each line naming its domain;
                       with -f also domains that appear later (the feed for log shippers: -o json)
  -a, --raw            on a terminal, print the guest's bytes as they are (escape sequences included)
      --no-pager       do not page output to a terminal
      --no-hostname    short-iso: leave the host out

On a terminal, output goes through a pager ($SYSTEMD_PAGER, $PAGER, else less with LESS=FRSXMK),
boot separators are coloured (not with NO_COLOR), and the guest's escape and control sequences
are shown escaped (\\x1b...) except colours: a guest cannot set the title or clear the screen.
Into a pipe or a file, output is the guest's bytes unchanged.
A line's time is when the capture service (virt-consolelog collect) saw it arrive; where the service
did not run, the time of the seal or of the live file's last write, marked coarse ("~" before it in
short-iso, "coarse": true in json); lines -f reads live take the time they are read.
Exit codes: 0 ok (also when the reader of the output quits early), 2 bad option, 3 unknown domain,
boot or device.`;

export const showCommand: Command = {
  usage: USAGE,
  options: SHOW_OPTIONS,
  async run(args, ctx) {
    const o = parseShowArgs(args);
    const { config } = ctx.config();
    assertStoreReadable(config);
    const isTTY = ctx.io.isTTY === true;
    // Followed output is not paged (journalctl -f neither): less would hold it back.
    const pagerPlan = choosePager(ctx.io.env, isTTY, o.noPager || o.follow === true);
    const pager = pagerPlan ? await startPager(pagerPlan) : undefined;
    const out: NodeJS.WritableStream = pager ? (pager.stdin as Writable) : ctx.io.stdout;
    const controller = new AbortController();
    const stop = () => controller.abort();
    if (o.follow) {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
    try {
      const p = planOutput(o, out, ctx.io.env, isTTY);
      if (o.all) {
        await followAllDomains(config, o, readOptionsOf(o, controller.signal), p, controller.signal);
        return EXIT.ok;
      }
      const domain = o.domain as string;
      if (o.listBoots) {
        await listBoots(config, domain, o, p.sink);
        return EXIT.ok;
      }
      // The name lookup alone: the reader takes the one snapshot (a second doubled show's cost).
      const { uuid, name } = resolveOne(config, domain);
      const source: LineSource = { name, uuid };
      await printDomain(config, domain, source, readOptionsOf(o, controller.signal), p);
      return EXIT.ok;
    } catch (e) {
      if (e instanceof HistoryError) {
        ctx.io.stderr.write(`virt-consolelog show: ${e.message}\n`);
        return EXIT.notFound;
      }
      throw e;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await pager?.close();
    }
  },
};

async function listBoots(
  config: Parameters<typeof openHistory>[0],
  domain: string,
  o: ShowArgs,
  sink: ShowSink,
): Promise<void> {
  const h = await openHistory(config, domain, o.device);
  try {
    const total = h.boots.length;
    if (o.output === 'json')
      for (const b of h.boots)
        await sink.write(
          JSON.stringify({
            offset: b.index - total,
            index: b.index,
            id: b.id,
            host: b.host,
            first: b.at,
            last: b.lastTime,
            bytes: b.bytes,
            implicit: b.implicit,
          }) + '\n',
        );
    else {
      await sink.write(
        `${'IDX'.padStart(4)} ${'BOOT ID'.padEnd(16)} ${'HOST'.padEnd(16)} ${'FIRST'.padEnd(24)} ${'LAST'.padEnd(24)} BYTES\n`,
      );
      for (const b of h.boots)
        await sink.write(
          `${String(b.index - total).padStart(4)} ${b.id.padEnd(16)} ${b.host.padEnd(16)} ${b.at.padEnd(24)} ${b.lastTime.padEnd(24)} ${b.bytes}\n`,
        );
    }
  } finally {
    h.close();
  }
}
