// Shared by the sandboxed reliability tests: a domain with a truncating file serial inside an
// allowed root, and sequence-guest lines written the way QEMU would write them.
import { appendFileSync, closeSync, constants, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { domain } from '../fuzz/generate.js';
import type { Sandbox } from '../security/sandbox.js';

export const seqLines = (boot: string, from: number, count: number): string => {
  let out = '';
  for (let i = from; i < from + count; i++) out += `seq=${String(i).padStart(8, '0')} boot=${boot}\n`;
  return out;
};

export const bootToken = (i: number): string => (0x10000000 + i * 0x1111).toString(16).slice(-8);

/** Domain XML with a `type='file'` serial (no append: QEMU truncates it at each start). */
export function fileSerialDomain(name: string, uuid: string, serialPath: string): string {
  return domain(
    `<serial type='file'><source path='${serialPath}'/><target port='0'/></serial>` +
      `<console type='file'><source path='${serialPath}'/><target type='serial' port='0'/></console>`,
    { name },
  ).replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuid}</uuid>`);
}

/** What QEMU does with a truncating file serial at start, then the guest printing `count` lines. */
export function qemuStart(sb: Sandbox, insidePath: string, boot: string, count: number): void {
  const p = sb.host(insidePath);
  mkdirSync(path.dirname(p), { recursive: true });
  // O_NOFOLLOW: a test that swaps symlinks in must not write through them itself.
  const fd = openSync(
    p,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    writeFileSync(fd, seqLines(boot, 0, count));
  } finally {
    closeSync(fd);
  }
}

export function guestPrints(
  sb: Sandbox,
  insidePath: string,
  boot: string,
  from: number,
  count: number,
): void {
  appendFileSync(sb.host(insidePath), seqLines(boot, from, count));
}

export const uuidFor = (i: number): string => `5eed0000-0000-4000-8000-${String(i).padStart(12, '0')}`;
