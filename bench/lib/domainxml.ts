// Domain XML as libvirt hands it to a hook: a typical guest (~4 KiB) or a large one padded with disks and
// interfaces to a target size (the 50 KiB migrate case). Deterministic; valid for virt-xml-validate.

export interface DomainXmlOptions {
  name: string;
  uuid: string;
  /** Serial backend: 'pty' (the usual), or 'file' with a path that QEMU would truncate on start. */
  serial: { type: 'pty'; log?: string } | { type: 'file'; path: string; append?: boolean };
  /** Pad the document with devices until it is at least this many bytes. */
  minBytes?: number;
  /** Boot disk image (absolute path). */
  disk?: string;
}

function mac(i: number): string {
  const b = [(i >> 8) & 0xff, i & 0xff, (i * 7) & 0xff].map((x) => x.toString(16).padStart(2, '0'));
  return `52:54:00:${b.join(':')}`;
}

function diskTarget(i: number): string {
  // vda..vdz, vdaa..vdzz: the naming libvirt uses
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return i < 26 ? `vd${letters[i]}` : `vd${letters[Math.floor(i / 26) - 1]}${letters[i % 26]}`;
}

export function domainXml(o: DomainXmlOptions): string {
  const serial =
    o.serial.type === 'pty'
      ? `    <serial type='pty'>${o.serial.log ? `\n      <log file='${o.serial.log}' append='on'/>` : ''}
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>${o.serial.log ? `\n      <log file='${o.serial.log}' append='on'/>` : ''}
      <target type='serial' port='0'/>
    </console>`
      : `    <serial type='file'>
      <source path='${o.serial.path}'${o.serial.append ? " append='on'" : ''}/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='file'>
      <source path='${o.serial.path}'${o.serial.append ? " append='on'" : ''}/>
      <target type='serial' port='0'/>
    </console>`;
  const head = `<domain type='qemu'>
  <name>${o.name}</name>
  <uuid>${o.uuid}</uuid>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:package version="27.1.0"/>
      <nova:name>${o.name}</nova:name>
      <nova:creationTime>2024-05-01 10:00:00</nova:creationTime>
      <nova:flavor name="m1.small">
        <nova:memory>2048</nova:memory>
        <nova:disk>20</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>1</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="5d8f5a4e0e3a4b0a9f0b1d2c3e4f5a6b">demo</nova:user>
        <nova:project uuid="8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d">demo</nova:project>
      </nova:owner>
    </nova:instance>
  </metadata>
  <memory unit='KiB'>32768</memory>
  <currentMemory unit='KiB'>32768</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${o.disk ?? '/var/lib/libvirt/images/' + o.name + '.img'}'/>
      <target dev='hda' bus='ide'/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
`;
  const tail = `    <controller type='usb' index='0' model='piix3-uhci'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pci-root'/>
    <controller type='ide' index='0'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x1'/>
    </controller>
${serial}
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <audio id='1' type='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
  const extra: string[] = [];
  let size = head.length + tail.length;
  for (let i = 0; o.minBytes && size < o.minBytes; i++) {
    const dev =
      i % 3 === 2
        ? `    <interface type='ethernet'>
      <mac address='${mac(i)}'/>
      <target dev='tap${i.toString(16).padStart(8, '0')}-${(i * 31).toString(16).padStart(2, '0')}'/>
      <model type='virtio'/>
      <mtu size='1450'/>
    </interface>
`
        : `    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' io='native' discard='unmap'/>
      <source file='/var/lib/nova/instances/${o.uuid}/disk.${i}'/>
      <target dev='${diskTarget(i)}' bus='virtio'/>
      <serial>${o.uuid.slice(0, 8)}-vol-${i.toString().padStart(4, '0')}</serial>
    </disk>
`;
    extra.push(dev);
    size += dev.length;
  }
  return head + extra.join('') + tail;
}
