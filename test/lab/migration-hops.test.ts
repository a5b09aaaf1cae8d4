// Issue 5: history follows the guest. The sequence guest (OpenStack-style type='file' serial, each
// host with its own /var/lib/nova and /var/log/libvirt) migrates live A -> B -> A -> B with restarts
// in between; each destination fetches the earlier history from the host the guest left (transport
// "command": the hosts share no network). `show` on the final host returns every line.
import test from 'ava';
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
  lab = await startLab({ hook: true });
  a = lab.host('lab-a');
  b = lab.host('lab-b');
  nsLinks(lab);
  for (const h of lab.hosts) h.writeConfig(hostConfig(lab, h, commandTransport(lab)));
});

test.after.always(async () => {
  await lab?.stop();
});

test.serial('A -> B -> A -> B with restarts: show on the final host has every line, in order', async (t) => {
  const g = await hopSequence(t, lab, a, b, { name: 'hops', serial: 'file', cutLastLine: true });
  await assertCompleteHistory(t, b, g, 3);
  t.is(fetchRecord(b, g.uuid)?.source, 'lab-a');
  // The history was copied, not shared: A still has its own part too.
  const onA = await a.cli('show', g.uuid);
  t.is(onA.exitCode, 0, onA.stderr);
});
