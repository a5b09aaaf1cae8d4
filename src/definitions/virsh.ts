// The virsh adapter: every libvirt call of `enable`, `disable` and the automatic job. Outside hooks
// only (docs/LIBVIRT-FACTS.md: a hook calling libvirt deadlocks). execa argument arrays, never a shell.
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LibvirtDomains } from '../store/decide-forget.js';
import { normaliseUuid } from '../store/layout.js';

export interface VirshOptions {
  /** libvirt URI (-c); default: --connect, else LIBVIRT_DEFAULT_URI, else virsh's own default. */
  uri?: string;
  env?: NodeJS.ProcessEnv;
  /** virsh waits on a busy domain by itself; this bounds one call. */
  timeoutMs?: number;
}

/** `busy`: try again later (the domain is in a job, or libvirtd did not answer in time or dropped us). */
export type VirshErrorKind = 'not-found' | 'busy' | 'other';

export class VirshError extends Error {
  override name = 'VirshError';
  constructor(
    message: string,
    readonly kind: VirshErrorKind,
    readonly args: readonly string[],
  ) {
    super(message);
  }
}

const NOT_FOUND_RE = /failed to get domain|Domain not found|no domain with matching/i;
/** The domain is in a job (start, migration, save): retry later. */
const BUSY_RE =
  /state change lock|Timed out during operation|is already being|domain is locked|another job|job is active|migration in progress|operation not allowed while/i;
/**
 * The connection lost: libvirtd too loaded to answer virsh's keepalive (a storm of 200 starts did that to
 * the automatic job's calls). Nothing was done: retry later, like a busy domain. A refused connection is
 * not retried: no libvirtd at all (the job's own hook came from one) will not come back within the bound.
 */
const CONNECTION_RE =
  /keepalive timeout|no valid connection|End of file while reading data|Cannot recv data|Cannot write data/i;

export function classifyVirshError(stderr: string): VirshErrorKind {
  if (NOT_FOUND_RE.test(stderr)) return 'not-found';
  if (BUSY_RE.test(stderr) || CONNECTION_RE.test(stderr)) return 'busy';
  return 'other';
}

export function uriFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  return flag || env.LIBVIRT_DEFAULT_URI || undefined;
}

export async function virsh(args: readonly string[], opts: VirshOptions = {}): Promise<string> {
  const full = [...(opts.uri ? ['-c', opts.uri] : []), ...args];
  const r = await execa('virsh', full, {
    reject: false,
    env: opts.env,
    extendEnv: opts.env === undefined,
    timeout: opts.timeoutMs ?? 120_000,
    stdin: 'ignore',
    stripFinalNewline: false,
  });
  if (r.exitCode !== 0 || r.failed) {
    const stderr = String(r.stderr ?? '').trim() || r.shortMessage || `exit ${r.exitCode}`;
    const message = stderr.replace(/^error:\s*/gm, '').replace(/\n+/g, '; ');
    // No answer in time: libvirtd is busy (hundreds of guests starting), as with a held job.
    const kind = r.timedOut ? 'busy' : classifyVirshError(stderr);
    throw new VirshError(`virsh ${args.join(' ')}: ${message}`, kind, full);
  }
  return String(r.stdout ?? '');
}

/** The persistent definition, with secrets (a define without them would drop VNC passwords). */
export function dumpInactive(domain: string, opts: VirshOptions): Promise<string> {
  return virsh(['dumpxml', '--inactive', '--security-info', domain], opts);
}

export async function dumpLive(domain: string, opts: VirshOptions): Promise<string | undefined> {
  return (await isActive(domain, opts)) ? virsh(['dumpxml', domain], opts) : undefined;
}

export async function domInfo(domain: string, opts: VirshOptions): Promise<Record<string, string>> {
  const out = await virsh(['dominfo', domain], opts);
  const info: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m?.[1]) info[m[1].trim()] = (m[2] ?? '').trim();
  }
  return info;
}

export async function isPersistent(domain: string, opts: VirshOptions): Promise<boolean> {
  return (await domInfo(domain, opts))['Persistent'] === 'yes';
}

export async function isActive(domain: string, opts: VirshOptions): Promise<boolean> {
  const state = (await virsh(['domstate', domain], opts)).trim();
  return state !== 'shut off' && state !== '';
}

/**
 * Where a start stands, from `virsh domstate --reason`: libvirt shows a domain it is still starting
 * as "paused (starting up)" (active, its start job still held) until QEMU's CPUs run.
 */
export async function startState(domain: string, opts: VirshOptions): Promise<'off' | 'starting' | 'up'> {
  const state = (await virsh(['domstate', '--reason', domain], opts)).trim();
  if (state === '' || state.startsWith('shut off')) return 'off';
  return state === 'paused (starting up)' ? 'starting' : 'up';
}

/** Names of every persistent domain (running or not). */
export async function listPersistent(opts: VirshOptions): Promise<string[]> {
  const out = await virsh(['list', '--all', '--persistent', '--name'], opts);
  return out
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** libvirt's answer to domjobinfo on the destination of a migration that is still running. */
const INCOMING_RE = /available only on the source host/i;

/** The domain's current job type ("None" when idle), from `virsh domjobinfo`. */
export async function jobType(domain: string, opts: VirshOptions): Promise<string> {
  let out: string;
  try {
    out = await virsh(['domjobinfo', domain], opts);
  } catch (e) {
    // The destination of a live migration has a job too, but libvirt reports it only on the source.
    if (e instanceof VirshError && INCOMING_RE.test(e.message)) return 'Incoming migration';
    throw e;
  }
  return /^Job type:\s*(.*)$/m.exec(out)?.[1]?.trim() ?? 'None';
}

/** Writes XML to a private temp file, runs fn on its path, removes it (it holds secrets). */
export async function withTempXml<T>(xml: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'virt-consolelog-'));
  const path = join(dir, 'domain.xml');
  try {
    await writeFile(path, xml, { mode: 0o600, flag: 'wx' });
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `virt-xml-validate FILE domain`: libvirt's own RelaxNG schema. Throws with its message. */
export async function validateDomainFile(path: string): Promise<void> {
  const r = await execa('virt-xml-validate', [path, 'domain'], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0 || r.failed) {
    const msg = `${String(r.stderr ?? '')}\n${String(r.stdout ?? '')}`.trim() || (r.shortMessage ?? 'failed');
    throw new Error(`the rewritten XML does not validate (virt-xml-validate): ${msg.replace(/\n+/g, '; ')}`);
  }
}

/** Validates, then `virsh define`s the XML. Running guests keep their live XML. */
export async function defineXml(
  xml: string,
  opts: VirshOptions,
  beforeDefine?: () => Promise<void>,
): Promise<void> {
  await withTempXml(xml, async (path) => {
    await validateDomainFile(path);
    // Last check right before the define (the automatic job: no migration may have begun).
    await beforeDefine?.();
    await virsh(['define', path], opts);
  });
}

/** Secrets read with --security-info (graphics passwords) never reach a terminal. */
export function maskSecrets(xml: string): string {
  return xml.replace(/(\spasswd\s*=\s*)(["'])(?:(?!\2)[\s\S])*\2/g, '$1$2***$2');
}

/** Unified diff between two XML texts (`diff -u`, diffutils: part of every Debian/RHEL base), secrets masked. */
export async function unifiedDiff(a: string, b: string, labelA: string, labelB: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'virt-consolelog-diff-'));
  try {
    const pa = join(dir, 'a.xml');
    const pb = join(dir, 'b.xml');
    await writeFile(pa, maskSecrets(a), { mode: 0o600 });
    await writeFile(pb, maskSecrets(b), { mode: 0o600 });
    const r = await execa('diff', ['-u', '--label', labelA, '--label', labelB, pa, pb], {
      reject: false,
      stdin: 'ignore',
      stripFinalNewline: false,
    });
    if (r.exitCode === 0) return '';
    if (r.exitCode === 1) return String(r.stdout);
    throw new Error(`diff failed: ${String(r.stderr) || r.shortMessage}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Sets our element in the running guest's live metadata (no define, no restart). */
export async function setLiveMetadata(
  domain: string,
  uri: string,
  key: string,
  elementXml: string,
  opts: VirshOptions,
): Promise<void> {
  await virsh(['metadata', domain, '--uri', uri, '--key', key, '--set', elementXml, '--live'], opts);
}

/**
 * Every domain libvirt lists (running or defined), or why it could not be asked (virsh failing,
 * libvirtd down, output not a list of UUIDs): then no domain counts as undefined.
 */
export async function listedDomains(opts: VirshOptions): Promise<LibvirtDomains> {
  let out: string;
  try {
    out = await virsh(['list', '--all', '--uuid'], { timeoutMs: 60_000, ...opts });
  } catch (e) {
    return { unknown: (e as Error).message };
  }
  const uuids: string[] = [];
  for (const line of out.split('\n').map((l) => l.trim())) {
    if (!line) continue;
    const u = normaliseUuid(line);
    if (!u) return { unknown: `virsh list printed ${JSON.stringify(line)}, not a UUID` };
    uuids.push(u);
  }
  return { uuids };
}
