// Builds the .deb and the .rpm once per content of their inputs and hands every packaging test the
// same files: concurrent test files wait for one build (proper-lockfile), later runs reuse it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import lockfile from 'proper-lockfile';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const VERSION = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** What `npm run build` leaves in dist/ for the packages, besides dist/chunks/. */
const DIST_FILES = [
  'dist/hook.mjs',
  'dist/hook-snapshot.cjs',
  'dist/cli-snapshot.cjs',
  'dist/virt-consolelog.mjs',
  'dist/hook-launcher.sh.in',
  'dist/cli-launcher.sh.in',
  'dist/ask-service.sh',
];

/** Files whose content decides what the packages hold (generated debian/ files excluded). */
function inputFiles(): string[] {
  const out = [
    ...DIST_FILES,
    ...readdirSync(join(REPO_ROOT, 'dist/chunks'))
      .sort()
      .map((n) => `dist/chunks/${n}`),
    'package.json',
    'README.md',
  ];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(REPO_ROOT, dir)).sort()) {
      const rel = join(dir, name);
      if (/^debian\/(virt-consolelog|\.debhelper|files|debhelper-build-stamp)/.test(rel)) continue;
      if (statSync(join(REPO_ROOT, rel)).isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  for (const dir of ['packaging', 'debian', 'rpm']) walk(dir);
  return out;
}

function inputsHash(): string {
  const h = createHash('sha256');
  for (const rel of inputFiles()) {
    h.update(rel + '\0');
    h.update(readFileSync(join(REPO_ROOT, rel)));
  }
  return h.digest('hex').slice(0, 16);
}

export interface Packages {
  deb: string;
  rpm: string;
}

async function buildOne(kind: 'deb' | 'rpm', out: string): Promise<string> {
  const r = await execa('sh', ['packaging/build-package.sh', kind, out], {
    cwd: REPO_ROOT,
    reject: false,
    all: true,
  });
  if (r.exitCode !== 0) throw new Error(`building the ${kind} failed (${r.exitCode}):\n${r.all}`);
  return String(r.stdout).trim().split('\n').pop() as string;
}

/** The packages built from the current tree (`npm run build` must have run: dist/ is an input). */
export async function ensurePackages(): Promise<Packages> {
  for (const f of DIST_FILES)
    if (!existsSync(join(REPO_ROOT, f))) throw new Error(`${f} missing: run npm run build first`);
  const base = join(REPO_ROOT, 'build', 'packages-test');
  mkdirSync(base, { recursive: true });
  const out = join(base, inputsHash());
  const release = await lockfile.lock(base, {
    lockfilePath: join(base, '.lock'),
    retries: { retries: 600, minTimeout: 500, maxTimeout: 1000 },
    stale: 60_000,
  });
  try {
    const deb = join(out, `virt-consolelog_${VERSION}-1_all.deb`);
    const rpm = join(out, `virt-consolelog-${VERSION}-1.noarch.rpm`);
    if (!existsSync(deb)) await buildOne('deb', out);
    if (!existsSync(rpm)) await buildOne('rpm', out);
    return { deb, rpm };
  } finally {
    await release();
  }
}

/** The paths a package installs (both formats), as `rpm -qlp` / `dpkg-deb -c` print them. */
export const SHIPPED_FILES = [
  '/etc/default/virt-consolelog',
  '/etc/libvirt/hooks/qemu.d/50-virt-consolelog',
  '/etc/virt-consolelog/virt-consolelog.conf',
  '/usr/bin/virt-consolelog',
  '/usr/lib/tmpfiles.d/virt-consolelog.conf',
  '/usr/lib/systemd/system/virt-consolelog-collect.service',
  '/usr/lib/virt-consolelog/hook.mjs',
  '/usr/lib/virt-consolelog/hook-snapshot.cjs',
  '/usr/lib/virt-consolelog/cli-snapshot.cjs',
  '/usr/lib/virt-consolelog/virt-consolelog.mjs',
  '/usr/lib/virt-consolelog/chunks',
  // The code the entry points load on demand: every chunk of this build.
  ...readdirSync(join(REPO_ROOT, 'dist/chunks'))
    .sort()
    .map((n) => `/usr/lib/virt-consolelog/chunks/${n}`),
  '/usr/share/bash-completion/completions/virt-consolelog',
];

/** Runs a command and returns stdout; throws with its output on failure. */
export async function run(
  file: string,
  args: string[],
  opts: { cwd?: string; input?: string } = {},
): Promise<string> {
  const r = await execa(file, args, { reject: false, all: true, ...opts });
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.exitCode}):\n${r.all}`);
  return String(r.stdout);
}
