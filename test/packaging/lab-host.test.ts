// Lab hosts that carry the .deb's own files, put where the package puts them and configured by the
// package's own postinst (run inside each host: store, key, SIGHUP of that host's libvirtd), behave
// as in the other lab tests: a guest starts, and on live migration the migrate begin filter of
// /usr/lib/virt-consolelog/hook.mjs rewrites its XML on the destination. `virt-consolelog doctor`
// inside the host finds nothing to fix.
import test from 'ava';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarise } from '../lab/checker.js';
import { createGuest } from '../lab/guest.js';
import { startLab, type Lab, type LabHost } from '../lab/harness.js';
import * as s from '../lab/scenario.js';
import { ensurePackages, run } from './packages.js';

const LIBDIR = '/usr/lib/virt-consolelog';
const HOOK = '/etc/libvirt/hooks/qemu.d/50-virt-consolelog';
const CONF = '/etc/virt-consolelog/virt-consolelog.conf';

let lab: Lab | undefined;
let pkg: string;

/** The .deb's files and maintainer scripts, as dpkg would unpack them. */
async function unpack(deb: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vcl-lab-pkg-'));
  await run('dpkg-deb', ['-x', deb, join(dir, 'root')]);
  await run('dpkg-deb', ['-e', deb, join(dir, 'DEBIAN')]);
  return dir;
}

/** Installs the unpacked package into a running lab host, then runs its postinst there. */
async function installPackage(host: LabHost): Promise<string> {
  // /usr/lib/virt-consolelog is not private to lab hosts: bind the package's copy inside this
  // host's mount namespace only (the mount point on the real root stays an empty folder).
  mkdirSync(LIBDIR, { recursive: true });
  const mount = await host.exec(['mount', '--bind', join(pkg, 'root', LIBDIR), LIBDIR]);
  if (mount.exitCode !== 0) throw new Error(`bind ${LIBDIR} on ${host.name}: ${mount.stderr}`);
  for (const file of [HOOK, CONF]) {
    mkdirSync(join(host.outside(file), '..'), { recursive: true });
    copyFileSync(join(pkg, 'root', file), host.outside(file));
  }
  chmodSync(host.outside(HOOK), 0o755); // the mode dpkg gives it
  const post = await host.exec(['sh', join(pkg, 'DEBIAN', 'postinst'), 'configure'], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    extendEnv: false,
  });
  if (post.exitCode !== 0) throw new Error(`postinst on ${host.name} failed: ${post.stderr}`);
  await s.waitFor(
    `libvirtd on ${host.name} after the reload`,
    async () => (await host.virshResult('uri')).exitCode === 0,
  );
  return post.stderr;
}

test.before(async () => {
  const { deb } = await ensurePackages();
  pkg = await unpack(deb);
  // Plain libvirt hosts first: the package arrives on hosts whose daemon already runs.
  lab = await startLab({ hosts: ['lab-a', 'lab-b'], hook: false });
});

test.after.always(async () => {
  await lab?.stop();
  if (pkg) rmSync(pkg, { recursive: true, force: true });
});

test.serial(
  'lab: the package installs on running lab hosts; doctor there finds nothing to fix',
  async (t) => {
    for (const host of [lab!.host('lab-a'), lab!.host('lab-b')]) {
      const out = await installPackage(host);
      t.regex(
        out,
        /reloaded libvirtd \(pid \d+, SIGHUP\)/,
        `${host.name}: postinst reloaded this host's daemon`,
      );
      t.regex(out, /created transfer key/);
      const doctor = await host.exec([`${LIBDIR}/virt-consolelog.mjs`, 'doctor', '--json', '--no-peers']);
      const report = JSON.parse(doctor.stdout) as {
        ok: boolean;
        checks: { name: string; status: string; message: string }[];
      };
      const status = Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
      t.log(`${host.name}: ${report.checks.map((c) => `${c.name}=${c.status}`).join(' ')}`);
      t.like(status, {
        hook: 'ok',
        'hook-node': 'ok',
        'hook-snapshot': 'ok',
        'hook-seen': 'ok',
        virtlogd: 'ok',
        store: 'ok',
        state: 'ok',
        key: 'ok',
      });
      t.true(report.ok, doctor.stdout);
      t.is(doctor.exitCode, 0);
    }
  },
);

test.serial(
  'lab: with the packaged layout a guest starts, and migrate begin rewrites its XML on the destination',
  async (t) => {
    const a = lab!.host('lab-a');
    const b = lab!.host('lab-b');
    const g = await createGuest(lab!, { name: 'pkg-mig', serial: 'file' });
    await s.defineAndStart(a, g);
    const onA = await s.waitForSeq(() => s.readInside(a, g.serialPath!), { minLast: 20 });
    const boot = onA.boots[0]!.boot;

    await s.prepareSerialDir(b, g);
    await s.migrate(a, b, g.name, lab!);
    t.is(await s.domState(b, g.name), 'running');
    const xml = await b.virsh('dumpxml', g.name);
    const serial = /<serial\b[\s\S]*?<\/serial>/.exec(xml)?.[0] ?? '';
    t.regex(serial, /<serial type='pty'>/);
    const log = /<log file='([^']+)' append='on'\/>/.exec(serial);
    t.truthy(log, serial);
    t.regex(xml, /<vcl:host name=["']lab-b["'] generation=["']\d+["']\/>/, 'our metadata names the new host');
    const file = join(lab!.dir, 'pkg-mig-on-b.xml');
    writeFileSync(file, xml);
    await t.notThrowsAsync(run('virt-xml-validate', [file, 'domain']));

    // Same boot, still printing, now into the log on lab-b.
    const more = await s.waitForMoreLines(() => s.readInside(b, log![1]!), { more: 20 });
    t.log(`log on lab-b: ${summarise(more)}`);
    t.is(more.boots[more.boots.length - 1]!.boot, boot);
    await s.destroy(b, g.name);
  },
);
