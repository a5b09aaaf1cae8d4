// Lab (issue 17): host loss with a shared store. lab-a and lab-b share log_root (as on NFS/CephFS);
// the capture service on lab-a seals live output every 2 s (--flush-ms 2000, the default on a
// network file system). Every process of lab-a's libvirt stack and the service are killed with
// SIGKILL while the guest prints; the guest started on lab-b shows lab-a's output up to 2 s
// before the kill.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkHistory, parseSeqLine, summarise } from './checker.js';
import { createGuest, domainXml, livePath } from './guest.js';
import { CLI_JS, lazyLab } from './harness.js';
import * as s from './scenario.js';

const FLUSH_MS = 2000;
const lab = lazyLab({ hosts: ['lab-a', 'lab-b'], config: 'auto_enable = 0\n' });
test.after.always(() => lab.stop());

test.serial(
  'lab: host A killed with kill -9: the guest started on B shows A output up to two flushes before',
  async (t) => {
    const l = await lab.get();
    const a = l.host('lab-a');
    const b = l.host('lab-b');
    const store = join(l.dir, 'shared-store');
    for (const h of l.hosts)
      h.writeConfig(`auto_enable = 0\nhost_name = "${h.name}"\nlog_root = "${store}"\n`);
    const base = await createGuest(l, { name: 'evac', serial: 'pty-log', delayUs: 100_000 });
    const serialPath = livePath(base.uuid);
    const g = { ...base, serialPath, xml: domainXml({ ...base, serialPath }) };
    const service = a.exec([process.execPath, CLI_JS, 'collect', '--flush-ms', String(FLUSH_MS)]);
    let serviceErr = '';
    service.stderr?.on('data', (c: Buffer) => (serviceErr += c.toString()));
    const seenAt = new Map<number, number>();
    const watcher = setInterval(() => {
      const now = Date.now();
      for (const line of s.readInside(a, serialPath).split('\n').slice(0, -1)) {
        const q = parseSeqLine(line);
        if (q && !seenAt.has(q.seq)) seenAt.set(q.seq, now);
      }
    }, 100);
    let killedAt = 0;
    try {
      await s.defineAndStart(a, g);
      await s.waitForSeq(() => s.readInside(a, serialPath), { minLast: 200, timeoutMs: 240_000 });
      // Host A dies: QEMU, virtlogd, libvirtd and the service, all at once.
      const qemuPid = Number(readFileSync(a.outside(`/run/libvirt/qemu/${g.name}.pid`), 'utf8').trim());
      const pids = [qemuPid, a.virtlogdPid(), a.libvirtdPid(), service.pid].filter((p): p is number => !!p);
      killedAt = Date.now();
      for (const p of pids) process.kill(p, 'SIGKILL');
    } finally {
      clearInterval(watcher);
    }
    await service;
    // A flush seals every FLUSH_MS; the one running at the kill dies with it (a CI run on a busy
    // machine lost the line seen 2.0 s before), so what is owed is what the flush before it took.
    const owed = [...seenAt].filter(([, at]) => at <= killedAt - 2 * FLUSH_MS).map(([seq]) => seq);
    t.true(owed.length >= 100, `${owed.length} lines seen ${(2 * FLUSH_MS) / 1000} s before the kill`);
    // The guest is evacuated to B (same disk, same UUID) and started there.
    await s.defineAndStart(b, g);
    await s.waitForSeq(() => s.readInside(b, serialPath), { minLast: 5, timeoutMs: 120_000 });
    const shown = await b.cli('show', g.name);
    t.is(shown.exitCode, 0, shown.stderr);
    const r = checkHistory(shown.stdout);
    t.log(summarise(r));
    const first = r.boots[0];
    t.truthy(first);
    const maxOwed = Math.max(...owed);
    t.true(
      (first?.last ?? -1) >= maxOwed,
      `A's boot shown up to seq ${first?.last}, seen ${(2 * FLUSH_MS) / 1000} s before the kill: ${maxOwed}`,
    );
    t.is(first?.gaps.filter((gap) => gap.from <= maxOwed).length, 0);
    t.is((first?.duplicates ?? 0) + (first?.reorderings ?? 0), 0);
    t.log(serviceErr);
  },
);
