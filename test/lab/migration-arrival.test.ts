// Issue 16: history follows the guest on every arrival, not only on live migration. Nova's cold
// migration (and resize, evacuate, unshelve, rebuild) stops the guest on A, undefines it there,
// defines a freshly generated XML on B (none of our metadata in it) and starts it: B's
// `prepare begin` must fetch A's part by itself. Hosts share no network: transport "command"
// through a lab script that can also play a peer that is down, or one that never held the guest.
import test, { type ExecutionContext } from 'ava';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGuest, type Guest } from './guest.js';
import { lazyLab, type Lab, type LabHost } from './harness.js';
import { assertCompleteHistory, fetchRecord, printMore, waitFetch } from './migration-common.js';
import * as s from './scenario.js';

const lab = lazyLab({ hook: true });
test.after.always(() => lab.stop());

/** Names of the peers that play hosts which never held the guest. */
const stubs = (n: number) => Array.from({ length: n }, (_, i) => `stub-${String(i + 1).padStart(2, '0')}`);

/**
 * `vcl-peer HOST serve-export WORDS...`: a stub-* host answers "not mine" (an empty listing, as
 * the export command does for a domain it never saw); a host with a file in down/ is unreachable
 * (exit 255, as ssh); any other runs the real export inside that lab host. Every answer's size
 * goes to the ledger.
 */
function peerScript(l: Lab): string {
  const file = join(l.dir, 'vcl-peer');
  mkdirSync(join(l.dir, 'down'), { recursive: true });
  writeFileSync(
    file,
    [
      '#!/bin/sh',
      'host=$1; shift',
      `dir=${JSON.stringify(l.dir)}`,
      'if [ -e "$dir/down/$host" ]; then echo "vcl-peer: $host is down" >&2; exit 255; fi',
      'case "$host" in',
      // Shell builtins only: a stub costs one short-lived sh, like a forced command that answers at once.
      '  stub-*) out=$(printf \'{"protocol":1,"uuid":"%s","exporter":"%s","at":"","maxGeneration":0,"segments":[],"live":[]}\' "$3" "$host")',
      '    printf \'%s\\n\' "$out"; echo "$host $2 $((${#out} + 1))" >> "$dir/ledger"; exit 0 ;;',
      'esac',
      'tmp=$(mktemp)',
      `${JSON.stringify(l.peerExec)} "$host" "$@" > "$tmp"; rc=$?`,
      'echo "$host $2 $(wc -c < "$tmp")" >> "$dir/ledger"',
      'cat "$tmp"; rm -f "$tmp"; exit $rc',
      '',
    ].join('\n'),
  );
  chmodSync(file, 0o755);
  return file;
}

function configure(l: Lab, extraPeers: string[] = [], extra = ''): void {
  const script = peerScript(l);
  const peers = [...l.hosts.map((h) => h.name), ...extraPeers].map((p) => JSON.stringify(p)).join(', ');
  for (const h of l.hosts)
    h.writeConfig(
      `host_name = "${h.name}"\npeers = [ ${peers} ]\ncompress_min_bytes = 512\ntransfer_timeout_seconds = 20\n` +
        `transport = "command"\ntransport_command = [ ${JSON.stringify(script)}, "{host}", "serve-export" ]\n${extra}`,
    );
}

/** Waits until auto-enable rewrote the persistent definition (an undefine must not race its define). */
async function waitEnabled(h: LabHost, name: string): Promise<void> {
  await s.waitFor(
    `${name}'s definition on ${h.name} enabled`,
    async () => (await h.virsh('dumpxml', '--inactive', name)).includes('virt-consolelog.org'),
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

/** As Nova: stop on `from`, undefine there, define the generated XML (no metadata of ours) on `to`, start. */
/** When each guest's last cold migration began (virsh start on the new host). */
const t0 = new Map<string, number>();

async function coldMigrate(from: LabHost, to: LabHost, g: Guest): Promise<void> {
  await s.destroy(from, g.name);
  await from.virsh('undefine', g.name);
  await s.define(to, g);
  t0.set(g.uuid, Date.now());
  await s.start(to, g.name);
}

async function firstBoot(t: ExecutionContext, l: Lab, on: LabHost, name: string): Promise<Guest> {
  const g = await createGuest(l, { name, serial: 'file' });
  t.false(g.xml.includes('virt-consolelog.org'), 'the generated XML carries no hint');
  await s.define(on, g);
  await s.start(on, g.name);
  await waitEnabled(on, g.name);
  // Its first start here is an arrival too: every peer says "not mine".
  const first = await waitFetch(on, g.uuid, ['nothing', 'complete', 'failed'], 120_000);
  t.is(first.status, 'nothing', JSON.stringify(first));
  await printMore(on, g.name);
  return g;
}

test.serial(
  'lab: cold migration A -> B -> A (Nova-style, private folders): every boot, in order',
  async (t) => {
    const l = await lab.get();
    const [a, b] = [l.host('lab-a'), l.host('lab-b')];
    configure(l);
    const g = await firstBoot(t, l, a, 'cold');
    await coldMigrate(a, b, g);
    const r = await waitFetch(b, g.uuid, ['complete']);
    t.is(r.source, 'lab-a');
    t.true(r.segmentsFetched > 0);
    await waitEnabled(b, g.name);
    await printMore(b, g.name);
    await assertCompleteHistory(t, b, g, 2);
    // Back to A: A knows the domain, but its new definition carries no hint: A asks, B answers.
    await coldMigrate(b, a, g);
    const back = await waitFetch(a, g.uuid, ['complete']);
    t.is(back.source, 'lab-b');
    await printMore(a, g.name);
    await assertCompleteHistory(t, a, g, 3);
    await s.destroy(a, g.name);
    await a.virsh('undefine', g.name);
  },
);

test.serial('lab: cold migration while A is down: status names A, sync completes it', async (t) => {
  const l = await lab.get();
  const [a, b] = [l.host('lab-a'), l.host('lab-b')];
  configure(l);
  const g = await firstBoot(t, l, a, 'down');
  writeFileSync(join(l.dir, 'down', 'lab-a'), '');
  await coldMigrate(a, b, g);
  const r = await waitFetch(b, g.uuid, ['failed']);
  t.regex(r.lastError ?? '', /lab-a/);
  const st = await b.cli('status', g.name);
  t.is(st.exitCode, 0, st.stderr);
  t.regex(st.stdout, /history fetch from lab-a: failed; owed since/);
  t.log(st.stdout.split('\n').find((x) => x.includes('history fetch')));
  rmSync(join(l.dir, 'down', 'lab-a'));
  const sync = await b.cli('sync', g.name);
  t.is(sync.exitCode, 0, sync.stdout + sync.stderr);
  t.is(fetchRecord(b, g.uuid)?.status, 'complete');
  await printMore(b, g.name);
  await assertCompleteHistory(t, b, g, 2);
  await s.destroy(b, g.name);
  await b.virsh('undefine', g.name);
});

test.serial(
  "lab: A down at B's start, A at a higher generation: after sync, A's boot first, then B's",
  async (t) => {
    const l = await lab.get();
    const [a, b] = [l.host('lab-a'), l.host('lab-b')];
    configure(l);
    const g = await firstBoot(t, l, a, 'order');
    // Live A -> B -> A: the rest of boot 1 is at generation 2 on A; B's store knows generation 1.
    await s.prepareSerialDir(b, g);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      await s.migrate(from, to, g.name, l, { persistent: true, undefineSource: true });
      await waitFetch(to, g.uuid, ['complete']);
      await printMore(to, g.name);
    }
    await waitEnabled(a, g.name);
    const first = s.bootsOf((await a.cli('show', g.name)).stdout);
    writeFileSync(join(l.dir, 'down', 'lab-a'), '');
    await coldMigrate(a, b, g);
    await waitFetch(b, g.uuid, ['failed']);
    await printMore(b, g.name);
    await waitEnabled(b, g.name);
    await s.destroy(b, g.name); // sealed at the generation B knew (1), below A's 2
    rmSync(join(l.dir, 'down', 'lab-a'));
    const sync = await b.cli('sync', g.name);
    t.is(sync.exitCode, 0, sync.stdout + sync.stderr);
    t.log(sync.stdout.split('\n').find((x) => x.includes('since the arrival')));
    const report = await assertCompleteHistory(t, b, g, 2);
    t.deepEqual(report.boots[0]?.boot, first[0], "A's boot first");
    await b.virsh('undefine', g.name);
  },
);

test.serial('lab: 100 peers, 99 never held the guest: one round of list requests', async (t) => {
  const l = await lab.get();
  const [a, b] = [l.host('lab-a'), l.host('lab-b')];
  const fake = stubs(99);
  configure(l, fake);
  const g = await firstBoot(t, l, a, 'many');
  const ledger = join(l.dir, 'ledger');
  rmSync(ledger, { force: true });
  await coldMigrate(a, b, g);
  const r = await waitFetch(b, g.uuid, ['complete'], 120_000);
  const rec = JSON.parse(
    readFileSync(b.outside(`/var/lib/virt-consolelog/domains/${g.uuid}/fetch.json`), 'utf8'),
  ) as { since: string; updated: string; notMine?: string[]; bytesFetched: number };
  const rows = readFileSync(ledger, 'utf8')
    .trim()
    .split('\n')
    .map((x) => x.split(' '))
    .map(([host, verb, bytes]) => ({ host: host as string, verb: verb as string, bytes: Number(bytes) }));
  const lists = rows.filter((x) => x.verb === 'list');
  // Each peer asked once: the round's answers are used by the fetch, not asked again.
  t.is(lists.length, 100);
  t.is(new Set(lists.map((x) => x.host)).size, 100);
  t.deepEqual([...(rec.notMine ?? [])].sort(), fake);
  t.is(r.source, 'lab-a');
  const listBytes = lists.reduce((n, x) => n + x.bytes, 0);
  const stubBytes = lists.filter((x) => x.host.startsWith('stub-')).reduce((n, x) => n + x.bytes, 0);
  const getBytes = rows.filter((x) => x.verb === 'get').reduce((n, x) => n + x.bytes, 0);
  const wall = Date.parse(rec.updated) - (t0.get(g.uuid) ?? Date.parse(rec.since));
  t.log(
    `arrival with 100 peers: fetch complete ${wall} ms after virsh start began (record ${Date.parse(rec.updated) - Date.parse(rec.since)} ms after prepare); ` +
      `${lists.length} list requests, ${listBytes} bytes of listings (${stubBytes} from the 99 stubs), ${getBytes} bytes of segments (${rec.bytesFetched} imported)`,
  );
  // The round alone, as `sync` reports it: the same arrival asked anew (every segment is here now).
  const recFile = b.outside(`/var/lib/virt-consolelog/domains/${g.uuid}/fetch.json`);
  const { notMine: _n, ...fresh } = JSON.parse(readFileSync(recFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(recFile, JSON.stringify({ ...fresh, status: 'failed' }));
  const again = await b.cli('sync', g.name);
  t.is(again.exitCode, 0, again.stdout + again.stderr);
  const round = /asked 100 peer\(s\) in (\d+) ms: 1 hold history, 99 not mine, 0 no answer/.exec(
    again.stdout,
  );
  t.truthy(round, again.stdout);
  t.log(
    `sync of the same arrival: ${round?.[0]}; load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
  );
  await printMore(b, g.name);
  await assertCompleteHistory(t, b, g, 2);
  await s.destroy(b, g.name);
  await b.virsh('undefine', g.name);
});

test.serial(
  'lab: evacuate, shared store: A killed without a stop; B shows what A sealed, status names the rest',
  async (t) => {
    const l = await lab.get();
    const [a, b] = [l.host('lab-a'), l.host('lab-b')];
    const store = join(l.dir, 'shared-store');
    configure(l, [], `log_root = "${store}"\n`);
    const g = await firstBoot(t, l, a, 'evac');
    // Boot 2 on A: boot 1 is sealed into the shared store at this restart.
    await s.destroy(a, g.name);
    await s.start(a, g.name);
    await printMore(a, g.name);
    const qemu = Number(readFileSync(a.outside(`/run/libvirt/qemu/${g.name}.pid`), 'utf8').trim());
    for (const pid of [a.libvirtdPid(), a.virtlogdPid(), qemu]) {
      t.truthy(pid);
      process.kill(pid as number, 'SIGKILL');
    }
    await s.define(b, g);
    await s.start(b, g.name);
    await printMore(b, g.name);
    const show = await b.cli('show', g.name);
    t.is(show.exitCode, 0, show.stderr);
    // Boot 1 complete (sealed by A into the shared store), then B's boot; A's boot 2 stayed on A.
    await assertCompleteHistory(t, b, g, 2);
    const st = await b.cli('status', g.name);
    t.is(st.exitCode, 0, st.stderr);
    t.regex(st.stdout, /missing from lab-a since \S+: started there at .* and never stopped/);
    t.log(st.stdout.split('\n').find((x) => x.includes('missing from')));
    await s.destroy(b, g.name);
  },
);
