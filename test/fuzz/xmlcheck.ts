// Checks on XML the hook or the rewrite emitted: well-formed (xmllint, no network, no DTD loading)
// and accepted by libvirt's own RelaxNG schema (virt-xml-validate FILE domain).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function wellFormed(xml: string | Buffer): { ok: boolean; error: string } {
  const r = spawnSync('xmllint', ['--noout', '--nonet', '-'], {
    input: xml,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { ok: r.status === 0, error: (r.stderr ?? '').slice(0, 500) };
}

let dir: string | undefined;
let n = 0;

/** virt-xml-validate on the document; returns ok and the validator's message. */
export function libvirtValid(xml: string | Buffer): { ok: boolean; error: string } {
  dir ??= mkdtempSync(path.join(tmpdir(), 'vcl-validate-'));
  const file = path.join(dir, `d${++n}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync('virt-xml-validate', [file, 'domain'], { encoding: 'utf8', timeout: 60_000 });
  rmSync(file, { force: true });
  return { ok: r.status === 0, error: `${r.stdout ?? ''}${r.stderr ?? ''}`.slice(0, 800) };
}

/** Things libvirt should never be handed back by a filter, even when well-formed. */
export function hasDangerousDeclarations(xml: string): boolean {
  return /<!DOCTYPE|<!ENTITY|SYSTEM\s+["']/i.test(xml);
}
