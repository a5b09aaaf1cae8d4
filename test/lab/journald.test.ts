// Lab (issue 18): guest console lines in a real systemd-journald started inside the lab host's
// namespace (its private /run), fed through the journald sink by a driver standing in for the
// capture service (journald-driver.ts), read back with `journalctl -D /run/log/journal`.
import test from 'ava';
import { join } from 'node:path';
import { checkHistory, summarise } from './checker.js';
import { createGuest, type Guest } from './guest.js';
import { lazyLab, REPO_ROOT, type LabHost } from './harness.js';
import * as s from './scenario.js';
import { maxAdmitted } from '../../src/journald/rate.js';

const labOnce = lazyLab({ hosts: ['lab-a'], config: 'auto_enable = 0\n' });
let journaldPid: string | undefined;
let a: LabHost;

const DRIVER = join(REPO_ROOT, 'test/lab/journald-driver.ts');
const TSX = import.meta.resolve('tsx');
const CLI = join(REPO_ROOT, 'dist/virt-consolelog.mjs');
const STATE_DIR = '/var/lib/virt-consolelog';

test.beforeEach(async () => {
  a = (await labOnce.get()).host('lab-a');
  if (journaldPid) return;
  // journald's own per-service limit (10000 per 30 s) off: the test measures ours. Volatile: never /var/log/journal.
  const r = await a.exec([
    'sh',
    '-c',
    'mkdir -p /run/systemd/journal /run/log/journal /run/systemd/journald.conf.d && ' +
      'printf "[Journal]\\nStorage=volatile\\nRateLimitBurst=0\\n" >/run/systemd/journald.conf.d/lab.conf && ' +
      '{ /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 & echo $!; }',
  ]);
  if (r.exitCode !== 0) throw new Error(`systemd-journald did not start: ${r.stderr}`);
  journaldPid = r.stdout.trim();
  await s.waitFor('journald sockets', async () => {
    const t = await a.exec(['test', '-S', '/run/systemd/journal/socket']);
    return t.exitCode === 0 ? true : undefined;
  });
});

test.after.always(async () => {
  if (journaldPid) await a?.exec(['kill', journaldPid]);
  await labOnce.stop();
});

/** Defines the guest, gives its serial a log (`enable`, the operator's way) and starts it. */
async function startEnabled(g: Guest): Promise<void> {
  await s.define(a, g);
  const r = await a.cli('enable', g.name);
  if (r.exitCode !== 0) throw new Error(`enable ${g.name}: ${r.stderr}`);
  await s.start(a, g.name);
}

interface JournalEntry {
  MESSAGE: string | number[] | null;
  [field: string]: unknown;
}

async function journal(...match: string[]): Promise<JournalEntry[]> {
  const r = await a.exec(['journalctl', '-D', '/run/log/journal', '-o', 'json', '--all', ...match]);
  if (r.exitCode !== 0) throw new Error(`journalctl: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JournalEntry);
}

const messageBytes = (e: JournalEntry) =>
  Array.isArray(e.MESSAGE) ? Buffer.from(e.MESSAGE) : Buffer.from(e.MESSAGE ?? '');

interface DriverResult {
  written: number;
  firstWriteAt: number;
  lastWriteAt: number;
  logs: string[];
}

function driverArgv(options: object): string[] {
  return [process.execPath, '--import', TSX, DRIVER, JSON.stringify(options)];
}

test.serial(
  'lab: journald: a guest printing for 10 s: every line in the journal once, in order, by name',
  async (t) => {
    const lab = await labOnce.get();
    // ~50 lines/s: 500 lines is about 10 s of printing.
    const g = await createGuest(lab, { name: 'jd-web1', serial: 'pty', delayUs: 20_000 });
    await startEnabled(g);
    let last = '';
    const read = async () => {
      const r = await a.cli('show', g.name);
      last = `exit ${r.exitCode}: ${r.stderr}\n${r.stdout.slice(-300)}`;
      return r.stdout;
    };
    await s.waitForSeq(read, { minLast: 500, timeoutMs: 120_000 }).catch((e: Error) => {
      throw new Error(`${e.message}; show said: ${last}`);
    });
    await s.destroy(a, g.name);
    const shown = await a.cli('show', '--json', g.name);
    t.is(shown.exitCode, 0, shown.stderr);
    const lines = shown.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; text: string; boot: string | null; device: string })
      .filter((e) => e.type === 'line');
    t.true(lines.length >= 500, `${lines.length} lines`);

    const run = await a.exec(
      driverArgv({ domain: g.name, uuid: g.uuid, stateDir: STATE_DIR, rateLines: 0, burstLines: 1 }),
      { input: shown.stdout },
    );
    t.is(run.exitCode, 0, run.stderr);
    const result = JSON.parse(run.stdout) as DriverResult;
    t.is(result.written, lines.length);
    t.deepEqual(result.logs, [], 'no problem reported');

    const entries = await s.waitFor(
      'every line in the journal',
      async () => {
        const e = await journal(`VIRT_DOMAIN_NAME=${g.name}`);
        return e.length >= lines.length ? e : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    t.log(`${lines.length} lines shown, ${entries.length} entries with VIRT_DOMAIN_NAME=${g.name}`);
    t.is(entries.length, lines.length, 'exactly once each');
    t.deepEqual(
      entries.map((e) => messageBytes(e).toString()),
      lines.map((l) => l.text),
      'in order',
    );
    for (const [i, e] of entries.entries()) {
      if (
        e.VIRT_DOMAIN_UUID !== g.uuid ||
        e.VIRT_DEVICE !== lines[i]!.device ||
        (e.VIRT_BOOT_ID ?? null) !== lines[i]!.boot ||
        e.SYSLOG_IDENTIFIER !== `console/${g.name}` ||
        e.PRIORITY !== '6'
      )
        t.fail(`entry ${i} has the wrong fields: ${JSON.stringify(e)}`);
    }
    t.truthy(lines[0]!.boot, 'the store knew the boot: VIRT_BOOT_ID carries it');
    // The identifier finds the same lines.
    t.is((await journal('-t', `console/${g.name}`)).length, lines.length);
  },
);

test.serial(
  'lab: journald: bytes that are not UTF-8 reach the journal unchanged (binary-safe fields)',
  async (t) => {
    const texts = [
      Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x20, 0xc3]),
      Buffer.from('\x1b[1;32m[  OK  ]\x1b[0m Started\r'),
      Buffer.from([0x61, 0x00, 0x62]),
      Buffer.from('plain ascii'),
      Buffer.alloc(0),
    ];
    const input =
      texts.map((b) => JSON.stringify({ type: 'line', b64: b.toString('base64') })).join('\n') + '\n';
    const uuid = '0b5e1f6c-8d2a-4f5e-9a1b-3c4d5e6f7a8b';
    const run = await a.exec(
      driverArgv({ domain: 'jd-bytes', uuid, stateDir: STATE_DIR, rateLines: 0, burstLines: 1, raw: true }),
      { input },
    );
    t.is(run.exitCode, 0, run.stderr);
    const entries = await s.waitFor(
      'the lines in the journal',
      async () => {
        const e = await journal(`VIRT_DOMAIN_UUID=${uuid}`);
        return e.length >= texts.length ? e : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    t.deepEqual(entries.map(messageBytes), texts);
  },
);

test.serial(
  'lab: journald: a flooding guest gets at most its bound into the journal, the rest counted and reported',
  async (t) => {
    const lab = await labOnce.get();
    const g = await createGuest(lab, { name: 'jd-flood', serial: 'pty', delayUs: 0 });
    await startEnabled(g);
    // `show -f` needs the store to know the guest's log: wait for its first lines.
    await s.waitForSeq(async () => (await a.cli('show', g.name)).stdout, { minLast: 1, timeoutMs: 60_000 });
    const bound = { rateLines: 50, burstLines: 100, intervalMs: 2000 };
    const driver = a.exec(
      driverArgv({
        domain: g.name,
        uuid: g.uuid,
        stateDir: STATE_DIR,
        ...bound,
        minLines: 2000,
        follow: [process.execPath, CLI, 'show', '-f', '--json', g.name],
      }),
    );
    // The driver prints its result once it stopped feeding, then stays (its figures current) until killed.
    let pending = '';
    driver.stdout?.on('data', (chunk: Buffer) => (pending += chunk.toString()));
    let driverErr = '';
    driver.stderr?.on('data', (chunk: Buffer) => (driverErr += chunk.toString()));
    const result = await s.waitFor(
      "the driver's result",
      async () => {
        const nl = pending.indexOf('\n');
        return nl >= 0 ? (JSON.parse(pending.slice(0, nl)) as DriverResult) : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 250 },
    );
    t.deepEqual(result.logs, []);
    t.true(result.written > 0, `the driver fed nothing: ${driverErr}`);
    const seconds = (result.lastWriteAt - result.firstWriteAt) / 1000;
    t.log(
      `${result.written} lines fed in ${seconds.toFixed(1)} s (${Math.round(result.written / seconds)} lines/s)`,
    );
    t.true(result.written / seconds > 4 * bound.rateLines, 'the guest floods: several times its bound');

    // Every line fed is accounted for: in the journal, or counted in a report.
    const isReport = (e: JournalEntry) => e.VIRT_LEFT_OUT_LINES !== undefined;
    const entries = await s.waitFor(
      'the journal accounts for every line fed',
      async () => {
        const e = await journal(`VIRT_DOMAIN_NAME=${g.name}`);
        const sent = e.filter((x) => !isReport(x)).length;
        const left = e.filter(isReport).reduce((n, x) => n + Number(x.VIRT_LEFT_OUT_LINES), 0);
        return sent + left === result.written ? e : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const sent = entries.filter((x) => !isReport(x));
    const reports = entries.filter(isReport);
    t.log(
      `${sent.length} lines in the journal, ${reports.length} reports: ${reports.map((r) => r.MESSAGE).join(' | ')}`,
    );
    t.true(
      sent.length <= maxAdmitted(bound, result.lastWriteAt - result.firstWriteAt),
      `${sent.length} lines in the journal, at most ${maxAdmitted(bound, result.lastWriteAt - result.firstWriteAt)} allowed`,
    );
    t.true(reports.length >= 1);
    t.true(reports.every((r) => r.PRIORITY === '4' && /left out of the journal/.test(String(r.MESSAGE))));
    // The lines that went are the guest's, in order, each once.
    const seqs = sent.map((e) => /seq=(\d+)/.exec(messageBytes(e).toString())?.[1]).map(Number);
    t.true(
      seqs.every((n, i) => i === 0 || n > seqs[i - 1]!),
      'increasing sequence numbers',
    );

    // status and doctor, while the sink's figures are current.
    const status = await a.cli('status', g.name);
    t.is(status.exitCode, 0, status.stderr);
    t.regex(status.stdout, /journal: .*lines held back/);
    const doctor = await a.cli('doctor', '--json', '--no-peers');
    const check = (
      JSON.parse(doctor.stdout) as { checks: { name: string; status: string; message: string }[] }
    ).checks.find((c) => c.name === 'journald');
    t.is(check?.status, 'warn', JSON.stringify(check));
    t.regex(check?.message ?? '', new RegExp(`${g.name} \\(${g.uuid}\\) prints \\d+ lines/s`));
    driver.kill('SIGTERM');
    await driver;

    // The store still has every line.
    await s.destroy(a, g.name);
    const shown = await a.cli('show', g.name);
    // execa drops the last newline: a torn last line counts as the line being written, not malformed.
    const report = checkHistory(shown.stdout);
    t.log(summarise(report));
    t.true(report.ok, summarise(report));
    t.true((report.boots[0]?.last ?? 0) >= result.written - 1);
  },
);
