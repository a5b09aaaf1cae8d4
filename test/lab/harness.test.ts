// The lab harness itself: private hosts, the sequence guest under every lifecycle helper, console,
// daemon restarts, and a teardown that leaves nothing behind. Plain libvirt (no hook).
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkHistory } from './checker.js';
import { untear } from './nova-chain-common.js';
import { createGuest, type Guest } from './guest.js';
import { lazyLab, startLab, type Lab, type LabHost } from './harness.js';
import * as s from './scenario.js';

let lab: Lab;
let a: LabHost;
let b: LabHost;
let realEtcLibvirt: string[];

const labOnce = lazyLab({ hook: false, virtlogd: { maxSize: 65536, maxBackups: 2 } });

// beforeEach, not before: a file whose tests are all filtered out (--match) starts no lab.
test.beforeEach(async () => {
  realEtcLibvirt = readdirSync('/etc/libvirt').sort();
  lab = await labOnce.get();
  a = lab.host('lab-a');
  b = lab.host('lab-b');
});

test.after.always(async () => {
  await labOnce.stop();
});

test.serial('lab: hosts are private: own hostname, /etc/libvirt, host_uuid, daemons', async (t) => {
  t.is((await a.exec(['hostname'])).stdout.trim(), 'lab-a');
  t.is((await b.exec(['hostname'])).stdout.trim(), 'lab-b');
  t.not(a.hostUuid, b.hostUuid);
  const capsA = await a.virsh('capabilities');
  t.true(capsA.includes(a.hostUuid));
  t.true((await b.virsh('capabilities')).includes(b.hostUuid));
  t.regex(readFileSync(join(a.paths.etcLibvirt, 'virtlogd.conf'), 'utf8'), /max_size = 65536/);
  const inside = await a.exec(['cat', '/etc/libvirt/virtlogd.conf'], { stripFinalNewline: false });
  t.is(inside.stdout, readFileSync(join(a.paths.etcLibvirt, 'virtlogd.conf'), 'utf8'));
  t.false(a.hookInstalled());
  t.truthy(a.libvirtdPid());
  t.truthy(a.virtlogdPid());
  t.not(a.libvirtdPid(), b.libvirtdPid());
  t.deepEqual(readdirSync('/etc/libvirt').sort(), realEtcLibvirt, 'the real /etc/libvirt is untouched');
  t.is(a.outside('/var/log/libvirt/qemu/x.log'), join(a.paths.varLogLibvirt, 'qemu/x.log'));
  t.is(a.outside('/tmp/x'), '/tmp/x');
});

test.serial('lab: sequence guest: boots, counts, survives libvirtd and virtlogd restarts', async (t) => {
  const g = await createGuest(lab, { name: 'h1', serial: 'pty-log' });
  await s.defineAndStart(a, g);
  const read = () => s.readInside(a, g.serialPath!);
  let r = await s.waitForSeq(read, { minLast: 20 });
  t.is(r.boots.length, 1);

  await a.restartLibvirtd();
  t.is(await s.domState(a, g.name), 'running');
  r = await s.waitForMoreLines(read, { after: r });

  await a.reexecVirtlogd();
  r = await s.waitForMoreLines(read, { after: r });
  const after = checkHistory(read());
  t.is(after.boots.length, 1);
  t.true(after.ok, 'virtlogd re-exec (SIGUSR1) keeps the log complete');

  const c = await s.consoleReadLine(lab, a, g.name);
  t.is(c.boot, r.boots[0]!.boot);
  await s.destroy(a, g.name);
});

test.serial(
  'lab: lifecycle helpers: reboot, reset, shutdown, managedsave, save/restore, destroy',
  async (t) => {
    const g: Guest = await createGuest(lab, { name: 'h2', serial: 'pty-log' });
    await s.defineAndStart(a, g);
    const read = () => s.readInside(a, g.serialPath!);
    let r = await s.waitForSeq(read, { minLast: 10 });

    await s.reboot(a, g.name); // ACPI: the guest powers off, libvirt's fake reboot restarts it
    r = await s.waitForSeq(read, { boots: 2, minLast: 10 });
    await s.reset(a, g.name);
    r = await s.waitForSeq(read, { boots: 3, minLast: 10 });
    // A reset stops the guest at once, maybe inside a line: that fragment runs into the next boot's
    // first line. Whole lines are what must all be there.
    const { text, torn } = untear(read());
    t.true(checkHistory(text).ok, 'reboot and reset in one QEMU: append-mode log complete');
    t.true(torn.length <= 2, `at most one line cut per restart: ${JSON.stringify(torn)}`);

    await s.managedSave(a, g.name);
    t.is(await s.domState(a, g.name), 'shut off');
    await s.start(a, g.name); // restores the managed save: same boot, counter continues
    r = await s.waitForMoreLines(read, { after: r });
    t.is(r.boots.length, 3, 'managedsave + start continues the same boot');

    const saveFile = join(lab.dir, 'h2.save');
    await s.save(a, g.name, saveFile);
    await s.restore(a, saveFile);
    r = await s.waitForMoreLines(read, { after: r });
    t.is(r.boots.length, 3, 'save + restore continues the same boot');

    await s.shutdown(a, g.name);
    t.is(await s.domState(a, g.name), 'shut off');
    t.regex(s.readInside(a, `/var/log/libvirt/qemu/${g.name}.log`), /reason=shutdown/);
    await s.start(a, g.name);
    r = await s.waitForSeq(read, { boots: 4, minLast: 5 });
    await s.destroy(a, g.name);
    t.regex(s.readInside(a, `/var/log/libvirt/qemu/${g.name}.log`), /reason=destroyed/);
  },
);

test.serial('lab: live migration A -> B -> A over unix sockets keeps the guest running', async (t) => {
  const g = await createGuest(lab, { name: 'h3', serial: 'pty' });
  await s.createTransient(a, g);
  await s.consoleReadLine(lab, a, g.name);
  await s.migrate(a, b, g.name, lab);
  t.is(await s.domState(b, g.name), 'running');
  t.is(await s.domState(a, g.name), undefined);
  const onB = await s.consoleReadLine(lab, b, g.name);
  await s.migrate(b, a, g.name, lab);
  const onA = await s.consoleReadLine(lab, a, g.name);
  t.is(onA.boot, onB.boot, 'same boot after two migrations');
  t.true(onA.seq > onB.seq);
  await s.destroy(a, g.name);
});

test.serial('lab: teardown leaves no process, mount or folder behind', async (t) => {
  const g = await createGuest(lab, { name: 'h4', serial: 'pty' });
  await s.createTransient(b, g);
  await s.waitForState(b, g.name, 'running');
  const pids = [a.pid, b.pid, a.libvirtdPid()!, b.libvirtdPid()!, a.virtlogdPid()!, b.virtlogdPid()!];
  const qemuPid = Number(readFileSync(join(b.paths.run, 'libvirt/qemu', `${g.name}.pid`), 'utf8'));
  pids.push(qemuPid);
  const dir = lab.dir;
  await lab.stop();
  for (const pid of pids) {
    const gone = !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    t.true(gone, `pid ${pid} is gone`);
  }
  t.false(existsSync(dir));
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(dir));
  t.true(statSync('/etc/libvirt').isDirectory());
  t.deepEqual(readdirSync('/etc/libvirt').sort(), realEtcLibvirt);
});

test.serial(
  'lab: network: true gives each host an address, names in /etc/hosts, and peer-exec reaches the CLI',
  async (t) => {
    const net = await startLab({ hook: false, network: true, hosts: ['net-a', 'net-b'] });
    try {
      const [na, nb] = net.hosts as [LabHost, LabHost];
      t.is(na.address, '10.77.0.1');
      t.is(nb.address, '10.77.0.2');
      t.regex((await na.exec(['ip', '-br', 'addr', 'show', 'eth0'])).stdout, /10\.77\.0\.1\/24/);
      const server = nb.exec([
        process.execPath,
        '-e',
        "require('net').createServer((s) => s.end(require('os').hostname() + '\\n')).listen(2222, '10.77.0.2')",
      ]);
      const hello = await s.waitFor('a TCP answer from net-b', async () => {
        const r = await na.exec([
          process.execPath,
          '-e',
          "require('net').connect(2222, 'net-b').on('data', (d) => { process.stdout.write(d); process.exit(0); }).on('error', () => process.exit(1))",
        ]);
        return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
      });
      t.is(hello, 'net-b', 'net-a reaches net-b by name over the lab network');
      server.kill();
      const v = await execa(net.peerExec, ['net-b', '--version'], { reject: false });
      t.is(v.exitCode, 0, String(v.stderr));
      t.regex(String(v.stdout), /virt-consolelog/);
    } finally {
      await net.stop();
    }
    t.false(existsSync(net.dir));
  },
);
