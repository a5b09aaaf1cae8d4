// Shared by the XML tests: a valid domain around some devices, config, facts, and libvirt's validator.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { DEFAULTS, type Config } from '../../src/config/schema.js';
import type { HostFacts } from '../../src/xml/rewrite.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const corpusDir = path.resolve(repoRoot, '../shared/corpus/libvirt-tests');

export const UUID = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';
export const HOST = 'hosta';
export const STORE = '/var/log/libvirt/consolelog';
export const LIVE_DIR = '/var/log/libvirt/qemu';
export const live = (device: string, uuid = UUID) => `${LIVE_DIR}/${uuid}.${device}.console`;

export function config(overrides: Partial<Config> = {}): Config {
  return { ...structuredClone(DEFAULTS), hostName: HOST, ...overrides } as Config;
}

export const facts: HostFacts = {
  host: HOST,
  canLogChardev: true,
  libvirtVersion: '9.0.0',
  qemuVersion: '7.2.0',
};
export const oldFacts: HostFacts = {
  host: HOST,
  canLogChardev: false,
  libvirtVersion: '1.2.17',
  reason: 'libvirt 1.2.17 < 1.3.3',
};

/** A schema-valid domain with `devices` inside <devices> (and `head` after <uuid>). */
export function domain(
  devices: string,
  opts: { arch?: string; machine?: string; head?: string; q?: '"' | "'" } = {},
): string {
  const q = opts.q ?? "'";
  const a = (s: string) => s.replace(/'/g, q);
  return a(`<domain type='qemu'>
  <name>guest1</name>
  <uuid>${UUID}</uuid>${opts.head ?? ''}
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch='${opts.arch ?? 'x86_64'}' machine='${opts.machine ?? 'pc'}'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${devices}
  </devices>
</domain>
`);
}

/** Runs libvirt's `virt-xml-validate FILE domain`; returns its error output, or undefined when valid. */
export async function validate(xml: string): Promise<string | undefined> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vcl-validate-'));
  try {
    const file = path.join(dir, 'domain.xml');
    await writeFile(file, xml);
    const r = await execa('virt-xml-validate', [file, 'domain'], { reject: false, all: true });
    return r.exitCode === 0 ? undefined : String(r.all);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Validates many documents at once: the exact check virt-xml-validate FILE domain runs
 * (`xmllint --noout --relaxng /usr/share/libvirt/schemas/domain.rng FILE`), with the schema
 * compiled once for all files. Returns the error output per failing index.
 */
export async function validateMany(xmls: readonly string[]): Promise<Map<number, string>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vcl-validate-'));
  try {
    const files = await Promise.all(
      xmls.map(async (xml, i) => {
        const f = path.join(dir, `${i}.xml`);
        await writeFile(f, xml);
        return f;
      }),
    );
    const r = await execa(
      'xmllint',
      ['--noout', '--relaxng', '/usr/share/libvirt/schemas/domain.rng', ...files],
      {
        reject: false,
        all: true,
      },
    );
    const out = String(r.all);
    const failed = new Map<number, string>();
    files.forEach((f, i) => {
      if (!out.includes(`${f} validates`))
        failed.set(
          i,
          out
            .split('\n')
            .filter((l) => l.startsWith(f + ':') || l.startsWith(f + ' '))
            .join('\n') || out.slice(0, 2000),
        );
    });
    return failed;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
