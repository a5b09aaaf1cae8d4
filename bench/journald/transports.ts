// One run per candidate: hand N lines of ~100 bytes to journald, wait until journalctl shows them
// all, report sender CPU (this process + its children), journald's CPU and the wall time.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const journaldPid = Number(process.argv[2]);
const total = Number(process.argv[3] ?? 20000);
const PAD = 'x'.repeat(60);

/** utime + stime in ms; own=true: this process's own plus its waited-for children. */
function cpuMs(pid: number | 'self'): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const tick = 10; // CLK_TCK 100
  const [ut, st, cut, cst] = [f[11], f[12], f[13], f[14]].map(Number) as [number, number, number, number];
  return (ut + st + cut + cst) * tick;
}

function count(id: string): number {
  const r = spawnSync('journalctl', ['-D', '/run/log/journal', `SYSLOG_IDENTIFIER=${id}`, '-o', 'cat'], {
    maxBuffer: 1 << 30,
  });
  return r.stdout
    .toString()
    .split('\n')
    .filter((l) => l.includes(' seq=')).length;
}

async function waitFor(id: string, n: number): Promise<void> {
  for (;;) {
    if (count(id) >= n) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const line = (id: string, i: number) => `${id} seq=${String(i).padStart(7, '0')} ${PAD}`;

function nativeEntry(id: string, i: number): Buffer {
  const fields: [string, Buffer][] = [
    ['MESSAGE', Buffer.from(line(id, i))],
    ['SYSLOG_IDENTIFIER', Buffer.from(id)],
    ['VIRT_DOMAIN_NAME', Buffer.from('web1')],
    ['VIRT_DOMAIN_UUID', Buffer.from('6f0c9a4e-4c1b-4d7a-9a57-2a8f2f3f9b11')],
    ['VIRT_DEVICE', Buffer.from('serial0')],
  ];
  const parts: Buffer[] = [];
  for (const [k, v] of fields) {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(v.length));
    parts.push(Buffer.from(k + '\n'), len, v, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

const candidates: Record<string, (id: string, n: number) => Promise<void>> = {
  async 'node-stream-socket'(id, n) {
    // journald shuts down its write side at once: without allowHalfOpen Node ends ours too.
    const s = net.connect({ path: '/run/systemd/journal/stdout', allowHalfOpen: true });
    await new Promise((r) => s.once('connect', r));
    s.write(`${id}\n\n6\n0\n0\n0\n0\n`);
    for (let i = 0; i < n; i++)
      if (!s.write(line(id, i) + '\n')) await new Promise((r) => s.once('drain', r));
    await new Promise<void>((r) => s.end(r));
  },
  async 'systemd-cat'(id, n) {
    const c = spawn('systemd-cat', ['-t', id], { stdio: ['pipe', 'ignore', 'inherit'] });
    for (let i = 0; i < n; i++)
      if (!c.stdin.write(line(id, i) + '\n')) await new Promise((r) => c.stdin.once('drain', r));
    c.stdin.end();
    await new Promise((r) => c.once('close', r));
  },
  async 'logger-journald-per-line'(id, n) {
    for (let i = 0; i < n; i++) {
      const c = spawn('logger', ['--journald'], { stdio: ['pipe', 'ignore', 'inherit'] });
      c.stdin.end(
        `MESSAGE=${line(id, i)}\nSYSLOG_IDENTIFIER=${id}\nVIRT_DOMAIN_NAME=web1\nVIRT_DEVICE=serial0\n`,
      );
      await new Promise((r) => c.once('close', r));
    }
  },
  async 'perl-datagram-helper'(id, n) {
    const c = spawn('perl', [join(here, 'perl-sender.pl')], { stdio: ['pipe', 'ignore', 'inherit'] });
    for (let i = 0; i < n; i++) {
      const e = nativeEntry(id, i);
      const h = Buffer.alloc(4);
      h.writeUInt32BE(e.length);
      if (!c.stdin.write(Buffer.concat([h, e]))) await new Promise((r) => c.stdin.once('drain', r));
    }
    c.stdin.end();
    await new Promise((r) => c.once('close', r));
  },
};

const results = [];
for (const [name, send] of Object.entries(candidates)) {
  console.error(`running ${name}`);
  const n = name.startsWith('logger') ? Math.min(total, 300) : total;
  const id = `bench-${name}-${process.pid}`;
  const [self0, j0, t0] = [cpuMs('self'), cpuMs(journaldPid), performance.now()];
  await send(id, n);
  const sent = performance.now();
  const self1 = cpuMs('self');
  await waitFor(id, n);
  const wall = performance.now() - t0;
  const j1 = cpuMs(journaldPid);
  results.push({
    candidate: name,
    lines: n,
    linesPerSecond: Math.round(n / (wall / 1000)),
    senderCpuUsPerLine: Math.round(((self1 - self0) * 1000) / n),
    journaldCpuUsPerLine: Math.round(((j1 - j0) * 1000) / n),
    sendMs: Math.round(sent - t0),
    wallMs: Math.round(wall),
    inJournal: count(id),
  });
}
console.log(JSON.stringify(results, null, 2));
