// Host facts: can this host's libvirt + QEMU log a chardev? Found from the binaries' --version
// (never the libvirt API: a hook must not call back into libvirt), cached in state_dir keyed by
// each binary's path, mtime and size, so the hook spawns nothing once the cache is warm.
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { arch as nodeArch, hostname } from 'node:os';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { asDocument, attrValue, child, type DomainXml } from '../xml/doc.js';
import type { HostFacts } from '../xml/rewrite.js';

/** libvirt >= 1.3.3 with QEMU >= 2.6 can log any chardev backend (docs/LIBVIRT-FACTS.md). */
export const MIN_LIBVIRT = '1.3.3';
export const MIN_QEMU = '2.6.0';

export const LIBVIRT_DAEMONS = [
  '/usr/sbin/virtqemud',
  '/usr/sbin/libvirtd',
  '/usr/local/sbin/virtqemud',
  '/usr/local/sbin/libvirtd',
];
/** The only folders a QEMU binary is run from (an `<emulator>` elsewhere is never executed). */
export const QEMU_DIRS = ['/usr/bin', '/usr/libexec', '/usr/local/bin'];
const QEMU_NAME = /^qemu-(system-[A-Za-z0-9_]+|kvm)$/;
export const CACHE_FILE = 'host-facts.json';

export interface ProbePaths {
  libvirtDaemons: readonly string[];
  qemuDirs: readonly string[];
}

interface CacheEntry {
  mtimeMs: number;
  size: number;
  version: string | null;
}
interface CacheFile {
  binaries: Record<string, CacheEntry>;
}

/** First "N.N" or "N.N.N" in a --version output, as "N.N.N". */
export function parseVersion(output: string): string | undefined {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  return m ? `${m[1]}.${m[2]}.${m[3] ?? '0'}` : undefined;
}

export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** QEMU binary name suffix for a libvirt arch. */
export function qemuSystemName(arch: string): string {
  if (/^i[3-6]86$/.test(arch)) return 'qemu-system-i386';
  if (arch === 'ppc64le') return 'qemu-system-ppc64';
  if (/^armv[67]l$/.test(arch)) return 'qemu-system-arm';
  return `qemu-system-${arch}`;
}

function hostArch(): string {
  const map: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7l' };
  return map[nodeArch()] ?? nodeArch();
}

/** QEMU binaries worth asking for this domain, best first. */
export function qemuCandidates(domainXml: DomainXml | undefined, dirs: readonly string[]): string[] {
  let arch = hostArch();
  let emulator: string | undefined;
  if (domainXml) {
    try {
      const doc = asDocument(domainXml);
      const type = child(child(doc.root, 'os'), 'type');
      arch = (type && attrValue(type, 'arch')) || arch;
      emulator = child(child(doc.root, 'devices'), 'emulator')?.text.trim();
    } catch {
      // Unparsable XML: the rewrite reports it; facts fall back to the host's own arch.
    }
  }
  const out: string[] = [];
  if (emulator && emulator.startsWith('/') && !emulator.split('/').includes('..')) {
    const p = posix.normalize(emulator);
    if (dirs.includes(posix.dirname(p)) && QEMU_NAME.test(posix.basename(p))) out.push(p);
  }
  if (/^[A-Za-z0-9_]+$/.test(arch)) for (const d of dirs) out.push(posix.join(d, qemuSystemName(arch)));
  for (const d of dirs) out.push(posix.join(d, 'qemu-kvm'));
  return [...new Set(out)];
}

async function readCache(path: string): Promise<CacheFile> {
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as CacheFile;
    if (data && typeof data.binaries === 'object' && data.binaries) return data;
  } catch {
    // Missing or damaged cache: probe again.
  }
  return { binaries: {} };
}

/** Temp names stay unique when hook events run side by side in one process (the capture service). */
let cacheWrites = 0;

async function writeCache(dir: string, cache: CacheFile): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const tmp = posix.join(dir, `.${CACHE_FILE}.${process.pid}.${Date.now()}.${++cacheWrites}`);
  // 'wx': never write through a file (or symlink) someone else put there.
  await writeFile(tmp, JSON.stringify(cache) + '\n', { flag: 'wx', mode: 0o644 });
  try {
    await rename(tmp, posix.join(dir, CACHE_FILE));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Version of the first existing binary among `paths` (cached); undefined when none answers. */
async function binaryVersion(
  paths: readonly string[],
  cache: CacheFile,
): Promise<{ path: string; version: string | undefined; dirty: boolean } | undefined> {
  for (const path of paths) {
    let st;
    try {
      st = await stat(path);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    const hit = cache.binaries[path];
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size)
      return { path, version: hit.version ?? undefined, dirty: false };
    let version: string | undefined;
    try {
      // Loaded only when a binary changed since the cache was written: a warm hook spawns nothing.
      const { execa } = await import('execa');
      const r = await execa(path, ['--version'], {
        timeout: 5000,
        stdin: 'ignore',
        reject: false,
        env: { LC_ALL: 'C', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        extendEnv: false,
      });
      version = r.exitCode === 0 ? parseVersion(String(r.stdout)) : undefined;
    } catch {
      version = undefined;
    }
    cache.binaries[path] = { mtimeMs: st.mtimeMs, size: st.size, version: version ?? null };
    return { path, version, dirty: true };
  }
  return undefined;
}

/** This host's facts; `paths` only for tests that point at other binaries. */
export async function getHostFacts(
  config: Config,
  domainXml?: DomainXml,
  paths: ProbePaths = { libvirtDaemons: LIBVIRT_DAEMONS, qemuDirs: QEMU_DIRS },
): Promise<HostFacts> {
  const cachePath = posix.join(config.stateDir, CACHE_FILE);
  const cache = await readCache(cachePath);
  const libvirt = await binaryVersion(paths.libvirtDaemons, cache);
  const qemu = await binaryVersion(qemuCandidates(domainXml, paths.qemuDirs), cache);
  if (libvirt?.dirty || qemu?.dirty) await writeCache(config.stateDir, cache).catch(() => undefined);

  const facts: HostFacts = { host: config.hostName || hostname(), canLogChardev: true };
  if (libvirt?.version) facts.libvirtVersion = libvirt.version;
  if (qemu?.version) facts.qemuVersion = qemu.version;
  // Unknown versions count as capable: a qemu.d hook only runs on libvirt >= 6.5.
  const reasons: string[] = [];
  if (facts.libvirtVersion && !versionAtLeast(facts.libvirtVersion, MIN_LIBVIRT))
    reasons.push(`libvirt ${facts.libvirtVersion} < ${MIN_LIBVIRT}`);
  if (facts.qemuVersion && !versionAtLeast(facts.qemuVersion, MIN_QEMU))
    reasons.push(`QEMU ${facts.qemuVersion} < ${MIN_QEMU.replace(/\.0$/, '')}`);
  if (reasons.length) {
    facts.canLogChardev = false;
    facts.reason = `${reasons.join(', ')}: chardev logs need libvirt >= ${MIN_LIBVIRT} and QEMU >= 2.6`;
  }
  return facts;
}
