// Transfer between two sandboxed hosts (transport "command": the peer's serve-export through
// nsenter): kill -9 of the fetching side mid-transfer, and the peer's export process killed
// mid-transfer. A later sync completes; the destination holds every boot exactly once.
import test from 'ava';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { checkHistory, summarise } from '../lab/checker.js';
import { rng } from '../fuzz/generate.js';
import { recordFigures } from '../fuzz/record.js';
import { CLI, HOOK_ENV, Sandbox } from '../security/sandbox.js';
import { bootToken, fileSerialDomain, qemuStart, uuidFor } from './common.js';
import { patient } from '../lab/patience.js';

const BOOTS = 6;
const LINES = 40_000;

/** pids of serve-export processes running in sandbox `sb`'s mount namespace. */
function exportPids(sb: Sandbox): number[] {
  const ns = readlinkSync(`/proc/${sb.pid}/ns/mnt`);
  const out: number[] = [];
  for (const d of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readlinkSync(`/proc/${d}/ns/mnt`) !== ns) continue;
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes('serve-export'))
        out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('transfer: fetcher killed -9 and peer killed mid-transfer, then sync completes without loss or duplicate', async (t) => {
  t.timeout(patient(300_000));
  const a = await Sandbox.create({ prefix: 'vcl-xfer-a-', config: 'host_name = "hosta"\nauto_enable = 0\n' });
  t.teardown(() => a.destroy());
  const uuid = uuidFor(500);
  const serial = '/var/log/libvirt/qemu/x.log';
  const xml = fileSerialDomain('x', uuid, serial);
  for (let i = 0; i < BOOTS; i++) {
    qemuStart(a, serial, bootToken(i), LINES);
    await a.hook(['x', 'prepare', 'begin', '-'], { stdin: xml });
  }
  await a.hook(['x', 'release', 'end', 'destroyed'], { stdin: xml });
  const peer = [
    'nsenter',
    `--mount=/proc/${a.pid}/ns/mnt`,
    '--',
    'env',
    '-i',
    ...HOOK_ENV,
    process.execPath,
    CLI,
    'serve-export',
  ];
  const b = await Sandbox.create({
    prefix: 'vcl-xfer-b-',
    config: `host_name = "hostb"\nauto_enable = 0\ntransport = "command"\ntransport_command = [ ${peer.map((w) => JSON.stringify(w)).join(', ')} ]\n`,
  });
  t.teardown(() => b.destroy());

  const r = rng(11);
  let fetcherKills = 0;
  let peerKills = 0;
  const failures: string[] = [];
  const bootsAtB = async () => checkHistory((await b.cli(['show', uuid])).stdout.toString()).boots.length;
  for (let i = 0; i < 4; i++) {
    const run = b.cli(['sync', uuid, '--from', 'hosta'], { timeoutMs: 120_000 });
    let settled = false;
    const done = () => void (settled = true);
    run.then(done, done);
    // Kill the peer's export process as soon as one is serving (none may: the sync can finish first).
    const end = Date.now() + patient(5000);
    while (!settled && Date.now() < end) {
      const pids = exportPids(a);
      if (pids.length) {
        await new Promise((res) => setTimeout(res, Math.floor(r() * 50)));
        for (const p of pids) {
          try {
            process.kill(p, 'SIGKILL');
            peerKills++;
          } catch {
            // finished already
          }
        }
        break;
      }
      await new Promise((res) => setTimeout(res, 5));
    }
    const res = await run;
    if (res.code === 0 && i === 0 && peerKills === 0)
      t.log('first sync finished before the peer could be killed');
  }
  const afterPeerKills = await bootsAtB();
  for (let i = 0; i < 4; i++) {
    const s = await b.cli(['sync', uuid, '--from', 'hosta'], { killAfterMs: 100 + Math.floor(r() * 600) });
    if (s.killed) fetcherKills++;
  }
  const afterFetcherKills = await bootsAtB();
  t.log(
    `boots at the destination: ${afterPeerKills} after the peer kills, ${afterFetcherKills} after the fetcher kills`,
  );
  const final = await b.cli(['sync', uuid, '--from', 'hosta'], { timeoutMs: 120_000 });
  if (final.code !== 0) failures.push(`final sync: exit ${final.code}: ${final.stderr} ${final.stdout}`);

  const shownA = checkHistory((await a.cli(['show', uuid])).stdout.toString());
  const shownBRun = await b.cli(['show', uuid]);
  const shownB = checkHistory(shownBRun.stdout.toString());
  t.log(summarise(shownB));
  recordFigures('faults-transfer', {
    boots: BOOTS,
    fetcherKills,
    bootsAfterPeerKills: afterPeerKills,
    bootsAfterFetcherKills: afterFetcherKills,
    peerKills,
    duplicates: shownB.totals.duplicates,
    missing: shownB.totals.missing,
    failures: failures.length,
  });
  t.log(`${fetcherKills} fetchers killed -9, ${peerKills} peer export processes killed`);
  t.deepEqual(failures, []);
  t.deepEqual(
    shownB.boots.map((x) => x.boot),
    shownA.boots.map((x) => x.boot),
    'every boot of the previous host',
  );
  for (const x of shownB.boots) {
    t.is(x.last, LINES - 1, `boot ${x.boot} complete`);
    t.is(x.duplicates, 0);
    t.is(x.missing, 0);
  }
  t.true(fetcherKills + peerKills > 0, 'something was killed mid-transfer');
});
