// The .deb: built with debhelper, clean under lintian, with the layout, conffiles, dependencies and
// maintainer scripts the package promises.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, REPO_ROOT, run, SHIPPED_FILES, VERSION } from './packages.js';

let deb: string;
test.before(async () => {
  ({ deb } = await ensurePackages());
});

test('the .deb holds the bundled hook and CLI, the launchers, config, tmpfiles, completion and man page', async (t) => {
  const listing = await run('dpkg-deb', ['-c', deb]);
  const paths = new Set(
    listing.split('\n').map((l) => l.replace(/^.*? \.(\/\S*).*$/, '$1').replace(/\/$/, '')),
  );
  for (const f of [
    ...SHIPPED_FILES,
    '/usr/share/man/man8/virt-consolelog.8.gz',
    '/usr/share/doc/virt-consolelog/copyright',
  ])
    t.true(paths.has(f), `${f} in the .deb`);
  t.false(
    [...paths].some((p) => p.includes('node_modules')),
    'no node_modules tree',
  );
  t.regex(listing, /^-rwxr-xr-x .* \.\/etc\/libvirt\/hooks\/qemu\.d\/50-virt-consolelog$/m);
  // The command is the sh launcher (packaging/cli-launcher.sh.in), no longer a symlink to the bundle.
  t.regex(listing, /^-rwxr-xr-x .* \.\/usr\/bin\/virt-consolelog$/m);
  // The package never ships (so never replaces) the main hook script.
  t.false(paths.has('/etc/libvirt/hooks/qemu'));
});

test('control: version, nodejs >= 18.19, openssh-client, libvirt recommended; conffiles', async (t) => {
  t.is((await run('dpkg-deb', ['-f', deb, 'Version'])).trim(), `${VERSION}-1`);
  t.is((await run('dpkg-deb', ['-f', deb, 'Architecture'])).trim(), 'all');
  const depends = await run('dpkg-deb', ['-f', deb, 'Depends']);
  t.regex(depends, /(^|, )nodejs \(>= 18\.19\)(,|$)/);
  t.regex(depends, /(^|, )openssh-client(,|$)/);
  t.regex(await run('dpkg-deb', ['-f', deb, 'Recommends']), /libvirt-daemon-driver-qemu \(>= 6\.5\.0\)/);
  const dir = mkdtempSync(join(tmpdir(), 'vcl-deb-ctl-'));
  try {
    await run('dpkg-deb', ['-e', deb, dir]);
    const conffiles = readFileSync(join(dir, 'conffiles'), 'utf8').trim().split('\n').sort();
    t.deepEqual(conffiles, [
      '/etc/default/virt-consolelog',
      '/etc/libvirt/hooks/qemu.d/50-virt-consolelog',
      '/etc/virt-consolelog/virt-consolelog.conf',
    ]);
    for (const script of ['postinst', 'postrm']) {
      const text = readFileSync(join(dir, script), 'utf8');
      await t.notThrowsAsync(run('sh', ['-n', join(dir, script)]), `${script} parses`);
      t.notRegex(text, /#VCL_MAINT#/, `${script}: shared logic inlined`);
      t.notRegex(text, /\/etc\/libvirt\/hooks\/qemu[^.]/, `${script} never names the main hook`);
    }
    t.regex(readFileSync(join(dir, 'postinst'), 'utf8'), /^\s*vcl_configure$/m);
    const postrm = readFileSync(join(dir, 'postrm'), 'utf8');
    t.regex(postrm, /^\s*vcl_purge$/m);
    // The snapshot cache goes on remove as well as on purge (nothing runs its blobs any more).
    t.regex(postrm, /^\s*remove\)\n\s*vcl_remove_cache$/m);
    t.regex(postrm, /^VCL_CACHE=\/var\/cache\/virt-consolelog$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the installed launcher runs /usr/lib/virt-consolelog/hook.mjs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vcl-deb-x-'));
  try {
    await run('dpkg-deb', ['-x', deb, dir]);
    const launcher = readFileSync(join(dir, 'etc/libvirt/hooks/qemu.d/50-virt-consolelog'), 'utf8');
    t.regex(launcher, /exec "\$node" "\/usr\/lib\/virt-consolelog\/hook\.mjs" "\$@"/);
    // Every placeholder substituted: the snapshot path too (VIRT_CONSOLELOG_SNAPSHOT).
    t.notRegex(launcher, /@[A-Z_]+@/);
    t.regex(launcher, /--snapshot-blob "\$blob" "\/usr\/lib\/virt-consolelog\/hook-snapshot\.cjs" "\$@"/);
    t.regex(launcher, /VIRT_CONSOLELOG_SNAPSHOT_DIR:-\/var\/cache\/virt-consolelog\}/);
    t.true(existsSync(join(dir, 'usr/lib/virt-consolelog/hook-snapshot.cjs')));
    // The snapshot cache: root's alone, made by tmpfiles.d (and the maintainer scripts).
    t.regex(
      readFileSync(join(dir, 'usr/lib/tmpfiles.d/virt-consolelog.conf'), 'utf8'),
      /^d +\/var\/cache\/virt-consolelog +0700 root root /m,
    );
    // auto by default, documented where the operator forces it on or off.
    t.regex(
      readFileSync(join(dir, 'etc/default/virt-consolelog'), 'utf8'),
      /^#VIRT_CONSOLELOG_SNAPSHOT=auto$/m,
    );
    t.regex(
      readFileSync(join(dir, 'usr/lib/virt-consolelog/virt-consolelog.mjs'), 'utf8'),
      /^#!\/usr\/bin\/node\n/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lintian reports no errors and no unexplained warnings', async (t) => {
  // --fail-on none: lintian's exit code is not the verdict, its tags are (overrides in debian/).
  const out = await run('lintian', ['--fail-on', 'none', '--no-tag-display-limit', deb]);
  const tags = out.split('\n').filter((l) => /^[EW]: /.test(l));
  t.deepEqual(tags, [], out);
});

test('debian/copyright names every npm module bundled into the hook and CLI', async (t) => {
  const copyright = readFileSync(join(REPO_ROOT, 'debian/copyright'), 'utf8');
  const dirs = (await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: REPO_ROOT }))
    .trim()
    .split('\n')
    .slice(1);
  t.true(dirs.length > 0);
  for (const dir of dirs) {
    const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string };
    t.true(copyright.includes(name), `${name} named in debian/copyright`);
  }
});
