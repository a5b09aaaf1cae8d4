// Where things live in the store (DESIGN.md "The store"). Pure: paths only, no I/O.
import { posix } from 'node:path';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Host and device names become path components: only this alphabet, never "." or "..". */
const COMPONENT_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** Normalises a domain UUID (libvirt accepts upper case and no dashes); undefined if it is not one. */
export function normaliseUuid(s: string): string | undefined {
  const hex = s.trim().toLowerCase().replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function isSafeComponent(s: string): boolean {
  return COMPONENT_RE.test(s) && s !== '.' && s !== '..' && !s.includes('..');
}

export function assertSafeComponent(what: string, s: string): string {
  if (!isSafeComponent(s)) throw new Error(`unsafe ${what} for a store path: ${JSON.stringify(s)}`);
  return s;
}

export function domainDir(logRoot: string, uuid: string): string {
  const u = normaliseUuid(uuid);
  if (!u) throw new Error(`not a domain UUID: ${JSON.stringify(uuid)}`);
  return posix.join(logRoot, u);
}

/** The live file virtlogd writes for one chardev of a domain on one host. */
export function liveLogPath(logRoot: string, uuid: string, host: string, device: string): string {
  return posix.join(
    domainDir(logRoot, uuid),
    assertSafeComponent('host name', host),
    `${assertSafeComponent('device name', device)}.log`,
  );
}

export function archiveDir(logRoot: string, uuid: string): string {
  return posix.join(domainDir(logRoot, uuid), 'archive');
}

/** True when `path` (absolute, normalised) lies inside `root`. Symlinks are the caller's business. */
export function isInside(root: string, path: string): boolean {
  const r = posix.normalize(root).replace(/\/+$/, '');
  const p = posix.normalize(path);
  return p === r || p.startsWith(r + '/');
}
