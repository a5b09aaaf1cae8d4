// One arrival's round of `list` requests to N peers that answer "not mine" (a tiny sh stub through
// transport "command"), with probe.ts's bound (16 at a time) against one at a time (as a fetch
// that asks its candidates in turn). Not part of `npm run bench`:
// `npx tsx bench/arrival-probe.ts [PEERS [LATENCY_SECONDS]]`.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/parse.js';
import { probePeers } from '../src/transfer/probe.js';
import { callPeerText } from '../src/transfer/transport.js';

const n = Number(process.argv[2] ?? 99);
/** Seconds each stub waits before answering (a network round trip and an ssh handshake). */
const latency = Number(process.argv[3] ?? 0);
const dir = mkdtempSync(join(tmpdir(), 'vcl-probe-'));
const stub = join(dir, 'stub');
const answer =
  'printf \'{"protocol":1,"uuid":"%s","exporter":"%s","at":"","maxGeneration":0,"segments":[],"live":[]}\\n\' "$4" "$1"';
writeFileSync(stub, `#!/bin/sh\n${latency > 0 ? `sleep ${latency}\n` : ''}${answer}\n`);
chmodSync(stub, 0o755);
const { config } = parseConfig(
  `host_name = "here"\ntransport = "command"\ntransport_command = [ "${stub}", "{host}", "serve-export" ]\n`,
  join(dir, 'conf'),
);
const uuid = '5c4d2a10-6b1e-4d3f-9a8b-0c1d2e3f4a5b';
const peers = Array.from({ length: n }, (_, i) => `stub-${i + 1}`);
try {
  for (let round = 0; round < 3; round++) {
    let t = Date.now();
    const r = await probePeers(config, uuid, peers);
    const bounded = Date.now() - t;
    t = Date.now();
    for (const p of peers) await callPeerText(config, p, ['list', uuid], { timeoutMs: 10_000 });
    const serial = Date.now() - t;
    console.log(
      `${n} peers, ${latency} s latency: one round ${bounded} ms (${r.notMine.length} not mine), one at a time ${serial} ms; load ${(
        await import('node:os')
      )
        .loadavg()[0]
        ?.toFixed(2)}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
