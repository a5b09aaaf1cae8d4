import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJournaldSink } from '../../src/journald/sink.js';
import { readFigures } from '../../src/journald/figures-file.js';
import { journaldStatus } from '../../src/journald/status.js';

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
