// Stands in for the capture service (issue 17) inside a lab host: hands a guest's lines, as
// `virt-consolelog show --json` gives them, to the real journald sink, one whole line at a time.
//   node --import tsx journald-driver.ts '<options JSON>' < show --json output
// Options: domain, uuid, stateDir, rateLines, burstLines, intervalMs; follow: [cli argv] to run
// `show -f --json` itself and feed lines as they arrive until `minLines` were written and the sink's
// figures show the guest above its bound, then stay until SIGTERM (so status/doctor see it running).
// Prints one JSON line: {written, firstWriteAt, lastWriteAt, logs}.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createJournaldSink } from '../../src/journald/sink.js';
import { readFigures } from '../../src/journald/figures-file.js';

interface DriverOptions {
  domain: string;
  uuid: string;
  stateDir: string;
  rateLines: number;
  burstLines: number;
  intervalMs?: number;
  follow?: string[];
  minLines?: number;
  socketPath?: string;
  /** Lines given as base64 in "b64" instead of show's JSON text. */
  raw?: boolean;
}

const o = JSON.parse(process.argv[2] ?? '{}') as DriverOptions;
const logs: string[] = [];
const sink = createJournaldSink({
  config: {
    journaldForward: true,
    journaldRateLines: o.rateLines,
    journaldBurstLines: o.burstLines,
    stateDir: o.stateDir,
  },
  log: (m) => logs.push(m),
  intervalMs: o.intervalMs,
  socketPath: o.socketPath,
});

let input: Readable = process.stdin;
const child = o.follow
  ? spawn(o.follow[0]!, o.follow.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
  : undefined;
if (child) input = child.stdout!;

let written = 0;
let firstWriteAt = 0;
let lastWriteAt = 0;
const enough = () => {
  if (!o.follow) return false;
  if (written < (o.minLines ?? 0)) return false;
  return readFigures(o.stateDir)?.figures.guests[o.uuid]?.aboveBound === true;
};
for await (const l of createInterface({ input, crlfDelay: Infinity })) {
  const e = JSON.parse(l) as {
    type: string;
    boot?: string | null;
    device?: string;
    text?: string;
    b64?: string;
  };
  if (e.type !== 'line') continue;
  const now = Date.now();
  firstWriteAt ||= now;
  lastWriteAt = now;
  sink.write({
    time: now,
    domain: o.domain,
    uuid: o.uuid,
    device: e.device ?? 'serial0',
    boot: e.boot ?? null,
    text: o.raw ? Buffer.from(e.b64 ?? '', 'base64') : Buffer.from(e.text ?? ''),
  });
  written++;
  if (enough()) break;
}
child?.kill();
await sink.close();
process.stdout.write(JSON.stringify({ written, firstWriteAt, lastWriteAt, logs }) + '\n');
if (o.follow) {
  // Figures stay current while this process runs: the test ends it.
  setInterval(() => {}, 1 << 30);
  process.once('SIGTERM', () => process.exit(0));
}
