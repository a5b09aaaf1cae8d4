import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJournaldSink } from '../../src/journald/sink.js';
import { readFigures } from '../../src/journald/figures-file.js';
import { journaldStatus } from '../../src/journald/status.js';
import { execa } from 'execa';
import { decode } from './decode.js';

const line = (i: number) => ({
  time: i,
  domain: 'web1',
  uuid: '6f0c9a4e-4c1b-4d7a-9a57-2a8f2f3f9b11',
  device: 'serial0',
  boot: null,
  text: Buffer.from(`line ${i}`),
});

test('without journald the sink says so once, takes every line without throwing, and publishes why', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'vcl-jd-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const logs: string[] = [];
  const sink = createJournaldSink({
    config: { journaldForward: true, journaldRateLines: 10, journaldBurstLines: 5, stateDir },
    log: (m) => logs.push(m),
    socketPath: join(stateDir, 'no-such-socket'),
  });
  for (let i = 0; i < 100; i++) sink.write(line(i));
  await sink.close();
  t.is(logs.length, 1, logs.join('\n'));
  t.regex(logs[0]!, /no systemd-journald on this host .*console lines stay in the store only/);
  const f = readFigures(stateDir);
  t.truthy(f);
  t.true(f!.current, 'this process wrote them and runs');
  t.regex(f!.figures.problem ?? '', /no systemd-journald/);
  t.regex(journaldStatus(stateDir, line(0).uuid)?.summary ?? '', /^not forwarded: no systemd-journald/);
});

test('journald_forward = 0: the sink does nothing at all (no process, no figures)', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'vcl-jd-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const logs: string[] = [];
  const sink = createJournaldSink({
    config: { journaldForward: false, journaldRateLines: 10, journaldBurstLines: 5, stateDir },
    log: (m) => logs.push(m),
  });
  sink.write(line(1));
  await sink.close();
  t.deepEqual(logs, []);
  t.false(existsSync(join(stateDir, 'journald.json')));
});

test('without perl the sink says so once and takes every line without throwing', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'vcl-jd-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  // Any socket file passes the sink's first look; the helper never starts.
  const socketPath = join(stateDir, 'socket');
  const server = createServer();
  await new Promise<void>((r) => server.listen(socketPath, r));
  t.teardown(() => server.close());
  const logs: string[] = [];
  const sink = createJournaldSink({
    config: { journaldForward: true, journaldRateLines: 0, journaldBurstLines: 1, stateDir },
    log: (m) => logs.push(m),
    socketPath,
    perl: join(stateDir, 'no-perl-here'),
  });
  for (let i = 0; i < 10; i++) sink.write(line(i));
  await sink.close();
  t.is(logs.length, 1, logs.join('\n'));
  t.regex(logs[0]!, /cannot run the journald sender \(perl\)/);
  t.regex(readFigures(stateDir)?.figures.problem ?? '', /cannot run the journald sender/);
});

test('every entry sent carries the fields of its own line: devices interleaved, a new boot, a renamed domain', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'vcl-jd-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const socketPath = join(stateDir, 'socket');
  // journald's side: a unix datagram socket (perl-base, as the sender), each datagram written out framed.
  const receiver = execa(
    'perl',
    [
      '-e',
      `use Socket; socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die; bind($s, pack_sockaddr_un($ARGV[0])) or die;
       binmode STDOUT; $| = 1; print "R";
       while (defined(recv($s, my $m, 1 << 20, 0))) { print pack('N', length $m), $m; }`,
      socketPath,
    ],
    { encoding: 'buffer', buffer: false, reject: false },
  );
  t.teardown(() => void receiver.kill());
  let got = Buffer.alloc(0);
  receiver.stdout.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
  while (!got.length) await new Promise((r) => setTimeout(r, 10));
  const sink = createJournaldSink({
    config: { journaldForward: true, journaldRateLines: 0, journaldBurstLines: 1, stateDir },
    socketPath,
  });
  const lines = [
    { ...line(0), device: 'serial0', boot: 'b1' },
    { ...line(1), device: 'console1', boot: 'b1' },
    { ...line(2), device: 'serial0', boot: 'b1', text: Buffer.from([0x41, 0x1b, 0xff]) },
    { ...line(3), device: 'serial0', boot: 'b2' },
    { ...line(4), device: 'console1', boot: 'b2', domain: 'web1-renamed' },
    { ...line(5), device: 'serial0', boot: null, text: Buffer.alloc(70 * 1024, 0x61) },
  ];
  for (const l of lines) sink.write(l);
  await sink.close();
  const entries: Record<string, string>[] = [];
  for (let at = 1; entries.length < lines.length;) {
    if (got.length < at + 4 || got.length < at + 4 + got.readUInt32BE(at)) {
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    const n = got.readUInt32BE(at);
    entries.push(
      Object.fromEntries(decode(got.subarray(at + 4, at + 4 + n)).map(([k, v]) => [k, v.toString('latin1')])),
    );
    at += 4 + n;
  }
  t.deepEqual(
    entries.map((e) => [
      e.VIRT_DEVICE,
      e.VIRT_BOOT_ID,
      e.VIRT_DOMAIN_NAME,
      e.SYSLOG_IDENTIFIER,
      e.MESSAGE?.length,
    ]),
    lines.map((l) => [
      l.device,
      l.boot ?? undefined,
      l.domain,
      `console/${l.domain}`,
      Math.min(l.text.length, 64 * 1024),
    ]),
  );
  t.is(entries[2]?.MESSAGE, Buffer.from([0x41, 0x1b, 0xff]).toString('latin1'));
  t.is(entries[5]?.VIRT_LINE_BYTES, String(70 * 1024));
});
