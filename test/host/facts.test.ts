import test from 'ava';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { DEFAULTS, type Config } from '../../src/config/schema.js';
import {
  CACHE_FILE,
  getHostFacts,
  parseVersion,
  qemuCandidates,
  qemuSystemName,
  versionAtLeast,
} from '../../src/host/facts.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'vcl-facts-'));
  dirs.push(d);
  return d;
}
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const cfg = (stateDir: string): Config =>
  ({ ...structuredClone(DEFAULTS), stateDir, hostName: 'hosta' }) as Config;
const x86 = `<domain type='qemu'><name>g</name><os><type arch='x86_64'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`;

async function script(dir: string, name: string, body: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, `#!/bin/sh\n${body}\n`);
  await chmod(p, 0o755);
  return p;
}

test('parseVersion and versionAtLeast', (t) => {
  t.is(parseVersion('libvirtd (libvirt) 9.0.0'), '9.0.0');
  t.is(parseVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)'), '7.2.22');
  t.is(parseVersion('QEMU emulator version 2.6'), '2.6.0');
  t.is(parseVersion('no digits'), undefined);
  t.true(versionAtLeast('1.3.3', '1.3.3'));
  t.true(versionAtLeast('10.0.0', '1.3.3'));
  t.false(versionAtLeast('1.3.2', '1.3.3'));
  t.false(versionAtLeast('2.5.9', '2.6.0'));
  t.is(qemuSystemName('i686'), 'qemu-system-i386');
  t.is(qemuSystemName('ppc64le'), 'qemu-system-ppc64');
  t.is(qemuSystemName('aarch64'), 'qemu-system-aarch64');
});

test('an <emulator> outside /usr/bin, /usr/libexec, /usr/local/bin or not named like QEMU is never a candidate', (t) => {
  const dirsAllowed = ['/usr/bin', '/usr/libexec', '/usr/local/bin'];
  const withEmu = (e: string) =>
    `<domain><name>g</name><os><type arch='s390x'>hvm</type></os><devices><emulator>${e}</emulator></devices></domain>`;
  t.is(qemuCandidates(withEmu('/usr/libexec/qemu-kvm'), dirsAllowed)[0], '/usr/libexec/qemu-kvm');
  for (const bad of [
    '/tmp/qemu-system-x86_64',
    '/usr/bin/../../tmp/qemu-kvm',
    '/usr/bin/sh',
    'qemu-kvm',
    '/usr/bin/sub/qemu-kvm',
  ]) {
    const c = qemuCandidates(withEmu(bad), dirsAllowed);
    t.false(
      c.some((p) => !dirsAllowed.includes(path.dirname(p))),
      bad,
    );
    t.false(c.includes(bad), bad);
  }
  t.deepEqual(qemuCandidates(withEmu('/tmp/x'), dirsAllowed).slice(0, 3), [
    '/usr/bin/qemu-system-s390x',
    '/usr/libexec/qemu-system-s390x',
    '/usr/local/bin/qemu-system-s390x',
  ]);
});

test('this host: versions from the real binaries, cached in state_dir', async (t) => {
  const libvirtd = ['/usr/sbin/virtqemud', '/usr/sbin/libvirtd'].find((p) => existsSync(p));
  if (!libvirtd || !existsSync('/usr/bin/qemu-system-x86_64')) {
    t.fail('libvirt and qemu-system-x86 must be installed (scripts/install-deps.sh)');
    return;
  }
  const state = await tempDir();
  const facts = await getHostFacts(cfg(state), x86);
  const wantLibvirt = parseVersion(String((await execa(libvirtd, ['--version'])).stdout));
  const wantQemu = parseVersion(String((await execa('/usr/bin/qemu-system-x86_64', ['--version'])).stdout));
  t.like(facts, { host: 'hosta', canLogChardev: true, libvirtVersion: wantLibvirt, qemuVersion: wantQemu });
  const cache = JSON.parse(await readFile(path.join(state, CACHE_FILE), 'utf8'));
  t.is(cache.binaries[libvirtd].version, wantLibvirt);
  t.is(cache.binaries['/usr/bin/qemu-system-x86_64'].version, wantQemu);

  // A warm cache is believed without running anything: plant an old version under the same mtime/size.
  cache.binaries[libvirtd].version = '1.2.0';
  await writeFile(path.join(state, CACHE_FILE), JSON.stringify(cache));
  const cached = await getHostFacts(cfg(state), x86);
  t.like(cached, { canLogChardev: false, libvirtVersion: '1.2.0' });
  t.regex(cached.reason ?? '', /libvirt 1\.2\.0 < 1\.3\.3/);

  // A changed binary (size differs) is asked again.
  cache.binaries[libvirtd].size += 1;
  await writeFile(path.join(state, CACHE_FILE), JSON.stringify(cache));
  t.like(await getHostFacts(cfg(state), x86), { canLogChardev: true, libvirtVersion: wantLibvirt });
});

test('an old host (libvirt < 1.3.3, QEMU < 2.6) cannot log chardevs; the reason names both', async (t) => {
  const bin = await tempDir();
  await script(bin, 'libvirtd', 'echo "libvirtd (libvirt) 1.3.2"');
  await script(
    bin,
    'qemu-system-x86_64',
    'echo "QEMU emulator version 2.5.1, Copyright (c) 2003-2008 Fabrice Bellard"',
  );
  const facts = await getHostFacts(cfg(await tempDir()), x86, {
    libvirtDaemons: [path.join(bin, 'libvirtd')],
    qemuDirs: [bin],
  });
  t.like(facts, { canLogChardev: false, libvirtVersion: '1.3.2', qemuVersion: '2.5.1' });
  t.regex(facts.reason ?? '', /libvirt 1\.3\.2 < 1\.3\.3, QEMU 2\.5\.1 < 2\.6/);
});

test('missing binaries and an unwritable state_dir still give facts (unknown counts as capable)', async (t) => {
  const dir = await tempDir();
  const file = path.join(dir, 'not-a-dir');
  await writeFile(file, '');
  const facts = await getHostFacts(cfg(path.join(file, 'state')), x86, {
    libvirtDaemons: [path.join(dir, 'nope')],
    qemuDirs: [path.join(dir, 'nothing')],
  });
  t.deepEqual(facts, { host: 'hosta', canLogChardev: true });
});

test('an <emulator> path in XML outside the known folders is never executed', async (t) => {
  const evilDir = await tempDir();
  const marker = path.join(evilDir, 'ran');
  const evil = await script(
    evilDir,
    'qemu-system-x86_64',
    `touch ${marker}; echo "QEMU emulator version 1.0.0"`,
  );
  const xml = x86.replace('/usr/bin/qemu-system-x86_64', evil);
  const facts = await getHostFacts(cfg(await tempDir()), xml, {
    libvirtDaemons: [],
    qemuDirs: [path.join(evilDir, 'no-such-dir')],
  });
  t.false(existsSync(marker));
  t.is(facts.qemuVersion, undefined);
});
