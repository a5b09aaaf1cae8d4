// The .rpm: built with rpmbuild from rpm/virt-consolelog.spec, its file list, config files,
// requirements and scriptlets, and rpmlint (with rpm/rpmlint.toml's explained filters).
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, REPO_ROOT, run, SHIPPED_FILES, VERSION } from './packages.js';

let rpm: string;
test.before(async () => {
  ({ rpm } = await ensurePackages());
});

test('rpm -qlp lists the packaged layout and no node_modules', async (t) => {
  const files = (await run('rpm', ['-qlp', rpm])).trim().split('\n');
  for (const f of [...SHIPPED_FILES, '/usr/share/man/man8/virt-consolelog.8.gz'])
    t.true(files.includes(f), f);
  t.false(files.some((f) => f.includes('node_modules')));
  t.false(files.includes('/etc/libvirt/hooks/qemu'), 'the main hook script is never shipped');
  // The store and the state (logs, transfer key) are never owned: an erase cannot take them.
  t.false(files.some((f) => f.startsWith('/var/')));
  t.is(
    (await run('rpm', ['-qp', '--qf', '%{VERSION}-%{RELEASE} %{ARCH}', rpm])).trim(),
    `${VERSION}-1 noarch`,
  );
});

test('config files are %config(noreplace); the hook is not config (an .rpmsave copy would still run)', async (t) => {
  const out = await run('rpm', ['-qp', '--qf', '[%{FILEFLAGS:fflags} %{FILENAMES}\n]', rpm]);
  const flags = new Map(
    out
      .trim()
      .split('\n')
      .map((l) => [l.split(' ')[1], l.split(' ')[0]] as const),
  );
  t.is(flags.get('/etc/virt-consolelog/virt-consolelog.conf'), 'cn');
  t.is(flags.get('/etc/default/virt-consolelog'), 'cn');
  t.is(flags.get('/etc/libvirt/hooks/qemu.d/50-virt-consolelog'), '');
  const modes = await run('rpm', ['-qp', '--qf', '[%{FILEMODES:perms} %{FILENAMES}\n]', rpm]);
  t.regex(modes, /^-rwxr-xr-x \/etc\/libvirt\/hooks\/qemu\.d\/50-virt-consolelog$/m);
  t.regex(modes, /^-rw-r--r-- \/usr\/lib\/virt-consolelog\/hook-snapshot\.cjs$/m);
});

test('requires nodejs >= 18.19 and openssh-clients; recommends libvirt', async (t) => {
  const requires = (await run('rpm', ['-qp', '--requires', rpm])).split('\n');
  t.true(requires.includes('nodejs >= 18.19'));
  t.true(requires.includes('openssh-clients'));
  t.regex(await run('rpm', ['-qp', '--recommends', rpm]), /libvirt-daemon-driver-qemu >= 6\.5\.0/);
});

test('scriptlets pass sh -n and %post runs the shared configure step', async (t) => {
  const scripts = await run('rpm', ['-qp', '--scripts', rpm]);
  const bodies = [
    ...scripts.matchAll(
      /^(\w+) scriptlet \(using \/bin\/sh\):\n([\s\S]*?)(?=^\w+ scriptlet \(using|$(?![\s\S]))/gm,
    ),
  ];
  t.deepEqual(
    bodies.map((m) => m[1]),
    ['postinstall', 'preuninstall', 'postuninstall'],
  );
  // An erase (not an upgrade) takes the hook's snapshot cache along.
  const body = (name: string) => bodies.find((m) => m[1] === name)?.[2] ?? '';
  t.regex(body('postuninstall'), /^if \[ "\$1" = 0 \]; then\n\s*vcl_remove_cache\nfi$/m);
  // An erase stops the capture service; an upgrade leaves it to %post's restart.
  t.regex(body('preuninstall'), /systemctl disable --now virt-consolelog-collect\.service/);
  const dir = mkdtempSync(join(tmpdir(), 'vcl-rpm-sh-'));
  try {
    for (const [, name, body] of bodies) {
      const file = join(dir, `${name}.sh`);
      writeFileSync(file, body as string);
      await t.notThrowsAsync(run('sh', ['-n', file]), `${name} parses`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const post = bodies[0]?.[2] ?? '';
  t.regex(post, /^vcl_configure$/m);
  t.regex(post, /^vcl_reload_daemons\(\) \{$/m, 'packaging/maint.sh inlined');
  t.notRegex(post, /%\{|%\(/, 'no unexpanded rpm macro');
});

test('rpmspec parses the spec; rpmlint reports no errors or warnings', async (t) => {
  const sources = mkdtempSync(join(tmpdir(), 'vcl-rpmspec-'));
  try {
    writeFileSync(join(sources, 'virt-consolelog-maint.sh'), '');
    const parsed = await run('rpmspec', [
      '-P',
      '--define',
      `_sourcedir ${sources}`,
      join(REPO_ROOT, 'rpm/virt-consolelog.spec'),
    ]);
    t.regex(parsed, new RegExp(`^Version: +${VERSION.replaceAll('.', '\\.')}$`, 'm'));
  } finally {
    rmSync(sources, { recursive: true, force: true });
  }
  const out = await run('rpmlint', ['-c', join(REPO_ROOT, 'rpm/rpmlint.toml'), rpm]);
  t.regex(out, /0 errors, 0 warnings/, out);
});
