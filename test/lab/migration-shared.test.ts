// Issue 5 on shared storage. Hosts share an OpenStack-style instances folder (/var/lib/nova, as on
// NFS: the type='file' serial's console.log is the same file on both) while each keeps its own
// /var/log/libvirt and store; then hosts share the store itself (log_root on shared storage): each
// writes only its own live files (live_dir, on its own disk), nothing is copied, locks work across hosts.
// Either way the sequence guest goes A -> B -> A -> B with restarts, and `show` on B has every line.
import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { livePath } from './guest.js';
import { startLab, type Lab, type LabHost } from './harness.js';
import {
  assertCompleteHistory,
  commandTransport,
  fetchRecord,
  hopSequence,
  hostConfig,
  nsLinks,
} from './migration-common.js';

let lab: Lab;
let a: LabHost;
let b: LabHost;

test.before(async () => {
  lab = await startLab({ hook: true, sharedNova: true });
  a = lab.host('lab-a');
  b = lab.host('lab-b');
  nsLinks(lab);
});

test.after.always(async () => {
  await lab?.stop();
});

test.serial('shared instances folder, private stores: every line once, in order', async (t) => {
  for (const h of lab.hosts) h.writeConfig(hostConfig(lab, h, commandTransport(lab)));
  const g = await hopSequence(t, lab, a, b, { name: 'nova', serial: 'file', cutLastLine: true });
  await assertCompleteHistory(t, b, g, 3);
  await assertCompleteHistory(t, a, g, 3);
  await s_destroy(b, g.name);
});

test.serial('shared store: nothing copied, each host writes its own live files', async (t) => {
  const store = join(lab.dir, 'shared-store');
  for (const h of lab.hosts)
    h.writeConfig(hostConfig(lab, h, `log_root = "${store}"\n${commandTransport(lab)}`));
  const g = await hopSequence(t, lab, a, b, { name: 'shared', serial: 'pty', enableFirst: true });
  await assertCompleteHistory(t, b, g, 3);
  // The same store read from the other host gives the same history.
  await assertCompleteHistory(t, a, g, 3);
  t.is(fetchRecord(b, g.uuid)?.status, 'nothing');
  // One domain.json for both hosts; their live files stay on their own disks (live_dir).
  const state = JSON.parse(readFileSync(join(store, g.uuid, 'domain.json'), 'utf8')) as { hosts: object };
  t.deepEqual(Object.keys(state.hosts).sort(), ['lab-a', 'lab-b']);
  t.deepEqual(
    readdirSync(join(store, g.uuid)).filter((n) => n.startsWith('lab-')),
    [],
  );
  for (const h of [a, b]) t.true(existsSync(h.outside(livePath(g.uuid))), `${h.name}'s live file`);
  const sidecars = readdirSync(join(store, g.uuid, 'archive')).filter((n) => n.endsWith('.json'));
  t.true(sidecars.length > 0);
  const imported = sidecars.filter(
    (n) => JSON.parse(readFileSync(join(store, g.uuid, 'archive', n), 'utf8')).importedFrom,
  );
  t.deepEqual(imported, [], 'nothing copied');
  t.false(existsSync(join(store, g.uuid, 'archive', '.lock')));
  await s_destroy(b, g.name);
});

async function s_destroy(h: LabHost, name: string): Promise<void> {
  await h.virshResult('destroy', name);
}
