// The sequence guest (seqguest.asm, built with nasm, no downloads) and domain XML for it.
//
//   const g = await createGuest(lab, { name: 'g1', serial: 'file' });   // image copy + XML
//   await defineAndStart(lab.host('lab-a'), g)                          // scenario.ts
//   g.serialPath   // inside-host path of the file serial / <log> file, if any
//
// Serial styles (SerialStyle):
//   'file'          OpenStack-style <serial type='file'><source path='/var/lib/nova/instances/<uuid>/console.log'/>
//   'file-libvirt'  type='file' under /var/log/libvirt/qemu/<name>-serial0.log
//   'pty'           plain pty, no log
//   'pty-log'       pty + <log file='/var/log/libvirt/qemu/<name>-serial0.log' append='on'/>
//   'nova-pty-log'  Nova-style pty + <log file='/var/lib/nova/instances/<uuid>/console.log' append='off'/>
// Every domain also has the x86 <console type=...><target type='serial' port='0'/></console> alias.
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, truncateSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kvmUsable, type Lab } from './harness.js';

export const GUEST_ASM = join(dirname(fileURLToPath(import.meta.url)), 'seqguest.asm');
export const IMAGE_BYTES = 1024 * 1024;

export type SerialStyle = 'file' | 'file-libvirt' | 'pty' | 'pty-log' | 'nova-pty-log';

export interface GuestOptions {
  name: string;
  uuid?: string;
  serial: SerialStyle;
  /** Pause between lines in microseconds (BIOS int 15h/86h). Default 5000 (~150-200 lines/s under TCG). */
  delayUs?: number;
  memoryMiB?: number;
  /**
   * Default 'qemu' (TCG, docs/LAB.md: boots in ~0.1 s; nested KVM here takes ~4 s in SeaBIOS), or 'kvm'
   * when VCL_LAB_DOMAIN_TYPE=kvm and /dev/kvm is usable (falls back to TCG otherwise).
   */
  domainType?: 'qemu' | 'kvm';
  /** Leave out the <console> alias. */
  noConsole?: boolean;
  /** Each line also sets the terminal title, clears the screen and turns red (seqguest.asm HOSTILE). */
  hostile?: boolean;
}

export interface Guest {
  name: string;
  uuid: string;
  image: string;
  serial: SerialStyle;
  /** The file the serial writes or logs to, as a path inside a host; undefined for plain pty. */
  serialPath?: string;
  xml: string;
}

/** Builds the boot sector for a delay (cached in the lab dir) and returns its path. */
export async function buildSequenceBootSector(
  outDir: string,
  delayUs = 5000,
  hostile = false,
): Promise<string> {
  if (!Number.isInteger(delayUs) || delayUs < 0 || delayUs > 0xffffffff) {
    throw new Error(`delayUs must be an integer 0..2^32-1, got ${delayUs}`);
  }
  const out = join(outDir, `seqguest-${delayUs}${hostile ? '-hostile' : ''}.bin`);
  if (!existsSync(out)) {
    mkdirSync(outDir, { recursive: true });
    // Built under a private name and renamed: a guest built at the same time never copies a half file.
    const partial = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await execa('nasm', [
      '-f',
      'bin',
      `-DDELAY_US=${delayUs}`,
      ...(hostile ? ['-DHOSTILE'] : []),
      '-o',
      partial,
      GUEST_ASM,
    ]);
    renameSync(partial, out);
  }
  return out;
}

/** A 1 MiB raw IDE disk whose first sector is the sequence guest. Each guest needs its own copy. */
export async function buildSequenceImage(outFile: string, delayUs = 5000, hostile = false): Promise<string> {
  const sector = await buildSequenceBootSector(dirname(outFile), delayUs, hostile);
  copyFileSync(sector, outFile);
  truncateSync(outFile, IMAGE_BYTES);
  return outFile;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');
}

export function novaConsolePath(uuid: string): string {
  return `/var/lib/nova/instances/${uuid}/console.log`;
}

/** The live log a guest's device gets from the plugin in a lab host (the default live_dir). */
export function livePath(uuid: string, device = 'serial0'): string {
  return `/var/log/libvirt/qemu/${uuid}.${device}.console`;
}

export function serialPathFor(style: SerialStyle, name: string, uuid: string): string | undefined {
  switch (style) {
    case 'file':
    case 'nova-pty-log':
      return novaConsolePath(uuid);
    case 'file-libvirt':
    case 'pty-log':
      return `/var/log/libvirt/qemu/${name}-serial0.log`;
    case 'pty':
      return undefined;
  }
}

/** The serial + console alias elements for a style. */
export function chardevXml(style: SerialStyle, path: string | undefined, noConsole = false): string {
  const p = path ? xmlEscape(path) : '';
  let serial: string;
  let type: string;
  switch (style) {
    case 'file':
    case 'file-libvirt':
      type = 'file';
      serial = `<serial type='file'>\n      <source path='${p}'/>\n      <target port='0'/>\n    </serial>`;
      break;
    case 'pty':
      type = 'pty';
      serial = `<serial type='pty'>\n      <target port='0'/>\n    </serial>`;
      break;
    case 'pty-log':
      type = 'pty';
      serial = `<serial type='pty'>\n      <log file='${p}' append='on'/>\n      <target port='0'/>\n    </serial>`;
      break;
    case 'nova-pty-log':
      type = 'pty';
      serial = `<serial type='pty'>\n      <log file='${p}' append='off'/>\n      <target port='0'/>\n    </serial>`;
      break;
  }
  if (noConsole) return serial;
  const source = type === 'file' ? `\n      <source path='${p}'/>` : '';
  return `${serial}\n    <console type='${type}'>${source}\n      <target type='serial' port='0'/>\n    </console>`;
}

export function domainXml(g: {
  name: string;
  uuid: string;
  image: string;
  serial: SerialStyle;
  serialPath?: string;
  memoryMiB?: number;
  domainType?: 'qemu' | 'kvm';
  noConsole?: boolean;
}): string {
  const mem = (g.memoryMiB ?? 32) * 1024;
  return `<domain type='${g.domainType ?? 'qemu'}'>
  <name>${xmlEscape(g.name)}</name>
  <uuid>${g.uuid}</uuid>
  <memory unit='KiB'>${mem}</memory>
  <currentMemory unit='KiB'>${mem}</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${xmlEscape(g.image)}'/>
      <target dev='hda' bus='ide'/>
    </disk>
    ${chardevXml(g.serial, g.serialPath, g.noConsole)}
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

export function defaultDomainType(): 'qemu' | 'kvm' {
  return process.env.VCL_LAB_DOMAIN_TYPE === 'kvm' && kvmUsable() ? 'kvm' : 'qemu';
}

/** Builds the guest's own image copy in the lab's images dir and its domain XML. */
export async function createGuest(lab: Lab, opts: GuestOptions): Promise<Guest> {
  const uuid = opts.uuid ?? randomUUID();
  const image = await buildSequenceImage(join(lab.imagesDir, `${opts.name}.img`), opts.delayUs, opts.hostile);
  const serialPath = serialPathFor(opts.serial, opts.name, uuid);
  const domainType = opts.domainType ?? defaultDomainType();
  const xml = domainXml({ ...opts, domainType, uuid, image, ...(serialPath ? { serialPath } : {}) });
  return { name: opts.name, uuid, image, serial: opts.serial, ...(serialPath ? { serialPath } : {}), xml };
}
