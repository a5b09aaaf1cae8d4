// Fault matrix on one lab host (real libvirtd, virtlogd, QEMU, the installed hook), run twice: the
// sequence guest on a truncating `type='file'` serial (so only sealing at stop/prepare keeps a boot),
// then on a pty with an append-mode `<log>` (boot markers; a fault must not join two boots). For
// each fault: inject, restart the guest (destroy + start: stopped, release, prepare run under the
// fault), check the guest runs, clear. At the end: every segment sealed before a fault is still
// there byte for byte (decoded: retention gzips segments), `show` has no duplicate, gap inside a
// boot or reordering, and the boots lost (if any) are counted. `status` must name the last problem.
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordFigures } from '../fuzz/record.js';
import { checkHistory, summarise } from '../lab/checker.js';
import { createGuest, type Guest } from '../lab/guest.js';
import { lazyLab, type LabHost } from '../lab/harness.js';
import * as s from '../lab/scenario.js';
import { dropTornLinesBeforeSeparators, LAB_STORE, storeDump } from '../lab/store-common.js';
import { changedSegments, sealedSegments } from './sealed-segments.js';
import { patient } from '../lab/patience.js';

const STORE = LAB_STORE;
const CONFIG = 'host_name = "lab-a"\nauto_enable = 0\nlock_wait_ms = 1500\nlock_stale_ms = 60000\n';
const lab = lazyLab({ hosts: ['lab-a'], config: CONFIG });
test.after.always(() => lab.stop());

interface Fault {
  name: string;
  /** Breaks something; returns how to repair it. */
  inject(a: LabHost, g: Guest): Promise<() => Promise<void>>;
  /** Whether sealing can work under this fault (else the boot before the restart may be lost). */
  sealable: boolean;
}

const domainDirOf = (a: LabHost, g: Guest) => a.outside(`${STORE}/${g.uuid}`);

async function sh(a: LabHost, argv: string[]): Promise<string> {
  const r = await a.exec(argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return String(r.stdout);
}

const FAULTS: Fault[] = [
  {
    name: 'config invalid',
    sealable: true,
    async inject(a) {
      a.writeConfig(CONFIG + 'log_root = relative/path\nlock_wait_ms = "soon"\n%%% garbage line\n');
      return async () => a.writeConfig(CONFIG);
    },
  },
  {
    name: 'config unreadable (a folder)',
    sealable: true,
    async inject(a) {
      const p = a.outside('/etc/virt-consolelog/virt-consolelog.conf');
      rmSync(p);
      mkdirSync(p);
      return async () => {
        rmSync(p, { recursive: true });
        a.writeConfig(CONFIG);
      };
    },
  },
  {
    // All three at once once lost a sealed boot (its key was reused); more ways: state.test.ts.
    name: 'state files corrupt (newest sidecar, domain.json, sealed.json)',
    sealable: true,
    async inject(a, g) {
      const d = domainDirOf(a, g);
      const sidecar = readdirSync(join(d, 'archive'))
        .filter((f) => f.endsWith('.json'))
        .sort()
        .at(-1);
      if (!sidecar) throw new Error('no sealed segment to corrupt yet');
      for (const f of ['domain.json', 'sealed.json', `archive/${sidecar}`])
        if (existsSync(join(d, f))) writeFileSync(join(d, f), '{"truncated": ');
      return async () => undefined;
    },
  },
  {
    name: 'stale lock of a dead process',
    sealable: true,
    async inject(a, g) {
      const d = domainDirOf(a, g);
      mkdirSync(join(d, '.lock'), { recursive: true });
      writeFileSync(
        join(d, '.lock.owner'),
        JSON.stringify({ host: 'lab-a', pid: 999_999, at: Date.now() - 3_600_000 }),
      );
      const old = new Date(Date.now() - 3_600_000);
      utimesSync(join(d, '.lock'), old, old);
      return async () => undefined;
    },
  },
  {
    name: 'live lock of a hung process (bounded wait, fail open)',
    sealable: false,
    async inject(a, g) {
      const d = domainDirOf(a, g);
      const holder = a.exec(['sleep', '600']);
      await s.sleep(200);
      const pid = holder.pid as number;
      process.kill(pid, 'SIGSTOP');
      mkdirSync(join(d, '.lock'), { recursive: true });
      // As a holder records itself: host, pid and the inode of the lock folder it holds.
      const lock = statSync(join(d, '.lock')).ino;
      writeFileSync(join(d, '.lock.owner'), JSON.stringify({ host: 'lab-a', pid, at: Date.now(), lock }));
      return async () => {
        rmSync(join(d, '.lock'), { recursive: true, force: true });
        rmSync(join(d, '.lock.owner'), { force: true });
        process.kill(pid, 'SIGKILL');
        process.kill(pid, 'SIGCONT');
        await holder.catch(() => undefined);
      };
    },
  },
  {
    name: 'store read-only',
    sealable: false,
    async inject(a) {
      await sh(a, ['mount', '--bind', STORE, STORE]);
      await sh(a, ['mount', '-o', 'remount,bind,ro', STORE]);
      return async () => void (await sh(a, ['umount', STORE]));
    },
  },
  {
    name: 'store full (ENOSPC: a full 256 KiB tmpfs over the archive)',
    sealable: false,
    async inject(a, g) {
      const archive = `${STORE}/${g.uuid}/archive`;
      await sh(a, ['mount', '-t', 'tmpfs', '-o', 'size=256k,mode=0750', 'vcl-full', archive]);
      await a.exec(['dd', 'if=/dev/zero', `of=${archive}/filler`, 'bs=4k', 'count=1000']);
      return async () => void (await sh(a, ['umount', archive]));
    },
  },
  {
    name: 'virtlogd re-exec (SIGUSR1) mid-life',
    sealable: true,
    async inject(a) {
      await a.reexecVirtlogd();
      return async () => undefined;
    },
  },
  {
    name: 'libvirtd restart mid-life (reconnect)',
    sealable: true,
    async inject(a) {
      await a.restartLibvirtd();
      return async () => undefined;
    },
  },
];

/** A strict prefix of a sequence line: the guest was killed while printing it. */
function cutShort(line: string): boolean {
  const template = 'seq=00000000 boot=00000000';
  const l = line.replace(/\r$/, '');
  return (
    l.length < template.length &&
    [...l].every((c, i) => (template[i] === '0' ? /[0-9a-f]/.test(c) : c === template[i]))
  );
}

/** Sealed segments of the guest by key: the digest of their decoded content (sealed-segments.ts). */
const segments = (a: LabHost, g: Guest) => sealedSegments(join(domainDirOf(a, g), 'archive'));

/** The matrix for one serial style: 'file' truncates at every start, 'pty-log' appends (markers). */
const faultMatrix = (style: 'file' | 'pty-log', figures: string) => async (t: ExecutionContext) => {
  t.timeout(patient(600_000));
  const l = await lab.get();
  const a = l.host('lab-a');
  const g = await createGuest(l, { name: `faults-${style}`, serial: style });
  await s.defineAndStart(a, g);
  const read = () => s.readInside(a, g.serialPath as string);
  const tokens: { boot: string; last: number; sealable: boolean; fault: string }[] = [];
  const failedOps: string[] = [];
  const sealedBefore = new Map<string, string>();
  const statusSeen: Record<string, string> = {};
  const doctorSeen: Record<string, string> = {};
  let stateLostAt = 0;

  const cycle = async (label: string, sealable: boolean) => {
    const r = await s.waitForSeq(read, { minLast: 20, notBoots: tokens.map((k) => k.boot) });
    const newest = r.boots.at(-1) as { boot: string; last: number };
    tokens.push({ boot: newest.boot, last: newest.last, sealable, fault: label });
    const d = await a.virshResult('destroy', g.name);
    if (d.exitCode !== 0) failedOps.push(`${label}: destroy: ${d.stderr}`);
    const st = await a.virshResult('start', g.name);
    if (st.exitCode !== 0) failedOps.push(`${label}: start: ${st.stderr}`);
    if ((await s.domState(a, g.name)) !== 'running')
      failedOps.push(`${label}: guest not running after start`);
  };

  await cycle('baseline', true);
  for (const f of FAULTS) {
    // The first digest seen of a segment is the one it must keep.
    for (const [k, v] of segments(a, g)) if (!sealedBefore.has(k)) sealedBefore.set(k, v);
    const repair = await f.inject(a, g);
    try {
      if (f.name.includes('mid-life')) {
        // Daemon faults hit a running guest: it must survive them (reconnect must never fail).
        if ((await s.domState(a, g.name)) !== 'running') failedOps.push(`${f.name}: guest died`);
      }
      await cycle(f.name, f.sealable);
      const doc = await a.cli('doctor', '--json', '--no-peers');
      try {
        const checks = (
          JSON.parse(String(doc.stdout)) as { checks: { name: string; status: string; message: string }[] }
        ).checks;
        doctorSeen[f.name] =
          checks
            .filter((c) => c.status !== 'ok' && c.status !== 'skip')
            .map((c) => `${c.name}: ${c.status}: ${c.message}`.slice(0, 400))
            .join('; ') || '(all ok)';
      } catch {
        failedOps.push(
          `${f.name}: doctor --json printed no JSON (exit ${doc.exitCode}): ${String(doc.stderr).slice(0, 300)}`,
        );
      }
      const status = await a.cli('status', '--json', g.name);
      if (status.exitCode !== 0)
        failedOps.push(`${f.name}: status exit ${status.exitCode}: ${status.stderr}`);
      else {
        const last = (JSON.parse(status.stdout) as { lastProblem?: { problems: string[] } | null }[])[0]
          ?.lastProblem;
        statusSeen[f.name] = last ? last.problems.join('; ').slice(0, 300) : '(none)';
      }
    } finally {
      await repair();
      if (f.name.startsWith('state files corrupt')) stateLostAt = Date.now();
    }
  }
  await cycle('after all faults', true);
  await s.waitForSeq(read, { minLast: 20, notBoots: tokens.map((k) => k.boot) });
  await s.destroy(a, g.name);

  // Every segment sealed before a fault is still there, unchanged (retention may have gzipped it).
  const lostSegments = changedSegments(sealedBefore, segments(a, g));
  const shown = await a.cli('show', g.name);
  const { text } = dropTornLinesBeforeSeparators(String(shown.stdout) + '\n');
  const report = checkHistory(text);
  const shownBoots = new Set(report.boots.map((b) => b.boot));
  const lostBoots = tokens.filter((k) => !shownBoots.has(k.boot));
  const doctor = await a.cli('doctor', '--no-peers');
  for (const [k, v] of Object.entries(statusSeen)) t.log(`status after "${k}": ${v}`);
  for (const [k, v] of Object.entries(doctorSeen)) t.log(`doctor during "${k}": ${v}`);
  t.log(summarise(report));
  t.log(`lost boots: ${JSON.stringify(lostBoots)}`);
  const separators = String(shown.stdout).match(/^-- Boot .* --$/gm) ?? [];
  t.log(`separators: ${separators.length} for ${report.boots.length} boots shown`);
  if (report.totals.duplicates > 0 || separators.length !== report.boots.length) t.log(storeDump(a, g.uuid));
  recordFigures(figures, {
    faults: FAULTS.length,
    guestOpsFailed: failedOps.length,
    sealedSegmentsLost: lostSegments.length,
    duplicates: report.totals.duplicates,
    boots: tokens.length,
    bootsLost: lostBoots.length,
    linesLostInLostBoots: lostBoots.reduce((n, b) => n + b.last + 1, 0),
    lostBootsUnderFaultsThatPreventSealing: lostBoots.filter((b) => !b.sealable).length,
    status: statusSeen,
    doctor: doctorSeen,
    doctorExit: doctor.exitCode,
  });

  t.deepEqual(failedOps, [], 'every guest operation succeeded under every fault');
  t.deepEqual(lostSegments, [], 'no sealed segment lost or changed');
  t.is(shown.exitCode, 0, String(shown.stderr));
  t.is(report.totals.duplicates, 0, 'no duplicate line');
  t.is(report.totals.reorderings, 0, 'no reordering');
  // destroy kills QEMU mid-line: a boot's last line may be cut short (a prefix of a sequence line).
  // Anything else malformed would be a torn or interleaved write of ours.
  t.deepEqual(
    report.malformed.filter((l) => !cutShort(l)),
    [],
    'no torn line other than a boot cut short by destroy',
  );
  // A truncating file's boundaries are recorded only in the store (RELIABILITY.md fix 21); an
  // append-mode log's marker ids die with domain.json (known, not fixed), checked apart below.
  if (style === 'file')
    t.is(separators.length, report.boots.length, 'every boot shown begins with a separator');
  t.deepEqual(
    lostBoots.filter((b) => b.sealable).map((b) => b.boot),
    [],
    'no boot lost under a fault that leaves sealing possible',
  );
  for (const f of FAULTS.filter((f) => !f.name.includes('mid-life') && !f.name.startsWith('stale')))
    t.not(statusSeen[f.name], '(none)', `status names a problem after "${f.name}"`);
  // A live (if hung) holder's lock is waited for and never broken; rebuilt state files are named.
  t.regex(statusSeen['live lock of a hung process (bounded wait, fail open)'] ?? '', /still held after/);
  t.regex(
    statusSeen['state files corrupt (newest sidecar, domain.json, sealed.json)'] ?? '',
    /sealed\.json was unreadable/,
  );
  // A store that cannot be written is named as such (no stack trace of a failed-open hook).
  t.regex(statusSeen['store read-only'] ?? '', /store not writable \(EROFS\)/);
  t.regex(
    statusSeen['store full (ENOSPC: a full 256 KiB tmpfs over the archive)'] ?? '',
    /store not writable \(ENOSPC\)|not sealed: ENOSPC/,
  );
  for (const f of ['config invalid', 'config unreadable (a folder)'])
    t.regex(doctorSeen[f] ?? '', /config: fail/, `doctor names the config problem during "${f}"`);
  t.regex(doctorSeen['store read-only'] ?? '', /store: fail/, 'doctor names the read-only store');
  t.regex(doctorSeen['store read-only'] ?? '', /disk:\S+: fail: .*mounted read-only/, 'and its file system');
  // The archive's own full tmpfs: the store check (a probe at log_root, which has room) cannot see it.
  t.regex(
    doctorSeen['store full (ENOSPC: a full 256 KiB tmpfs over the archive)'] ?? '',
    /disk:\S+\/archive: fail: tmpfs holding \S+\/archive of log_root: full/,
    'doctor names the full archive',
  );
  // An append-mode log keeps every boot whatever happens to the store: none may go missing.
  if (style === 'pty-log') t.deepEqual(lostBoots, [], 'no boot lost from an append-mode log');
  // Markers written while the store was unusable are recorded by a later hook: none stays a plain
  // line. (Those written before domain.json was destroyed may: it held the list of ids that are ours.)
  const plainMarkers = [
    ...String(shown.stdout).matchAll(/^--- virt-consolelog boot=\S+ host=\S+ at=(\S+) ---$/gm),
  ];
  t.deepEqual(
    plainMarkers.filter((m) => Date.parse(m[1] as string) > stateLostAt).map((m) => m[0]),
    [],
    'every boot marker written after the state was lost is shown as a separator',
  );
};

test.serial(
  'lab: fault matrix, truncating file serial: guests keep running, no sealed byte lost or duplicated, status names the problem',
  faultMatrix('file', 'faults-lab'),
);
test.serial(
  'lab: fault matrix, append-mode log: guests keep running, no boot lost, each start on a line of its own',
  faultMatrix('pty-log', 'faults-lab-log'),
);
