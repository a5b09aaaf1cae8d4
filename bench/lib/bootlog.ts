// Deterministic generator of serial-console text that looks like a Linux guest's: kernel messages with
// timestamps, systemd units, a login prompt, then runtime noise. Same seed, same bytes; no downloads.
// Serial consoles end lines with CR LF (the kernel's uart console writes "\r\n"), so this does too.
import { prng } from './stats.js';

const UNITS = [
  'Journal Service',
  'Load Kernel Modules',
  'Remount Root and Kernel File Systems',
  'Apply Kernel Variables',
  'Create Static Device Nodes in /dev',
  'Coldplug All udev Devices',
  'Rule-based Manager for Device Events and Files',
  'Network Time Synchronization',
  'Raise network interfaces',
  'Initial cloud-init job (pre-networking)',
  'Initial cloud-init job (metadata service crawler)',
  'OpenBSD Secure Shell server',
  'Regular background program processing daemon',
  'System Logging Service',
  'D-Bus System Message Bus',
  'User Login Management',
  'Permit User Sessions',
  'Serial Getty on ttyS0',
  'Getty on tty1',
  'Daily apt download activities',
  'Daily Cleanup of Temporary Directories',
  'Discard unused blocks once a week',
  'Message of the Day',
  'Unattended Upgrades Shutdown',
  'Update UTMP about System Runlevel Changes',
];

const TARGETS = [
  'Local File Systems',
  'Network',
  'Network is Online',
  'Multi-User System',
  'Timer Units',
  'Sockets',
];

const PCI_CLASSES = [
  '060000',
  '060100',
  '010180',
  '030000',
  '020000',
  '010000',
  '0c0300',
  '078000',
  '00ff00',
];

export interface BootLogOptions {
  /** Host name the guest prints in its prompt. */
  hostname?: string;
  /** Bytes of runtime output (ssh logins, cron, firewall drops...) after the login prompt. */
  runtimeBytes?: number;
}

function hex(rand: () => number, digits: number): string {
  let s = '';
  while (s.length < digits)
    s += Math.floor(rand() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  return s.slice(0, digits);
}

function uuid(rand: () => number): string {
  return `${hex(rand, 8)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 4)}-${hex(rand, 12)}`;
}

function ip(rand: () => number): string {
  return `${1 + Math.floor(rand() * 223)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
}

/** One boot of a Linux guest as its serial console shows it (~70 KiB before runtime output). */
export function bootLog(seed: number, options: BootLogOptions = {}): string {
  const rand = prng(seed);
  const host = options.hostname ?? `guest-${(seed % 1000).toString().padStart(3, '0')}`;
  const out: string[] = [];
  let t = 0;
  const k = (msg: string) => {
    t += rand() * 0.004;
    out.push(`[${t.toFixed(6).padStart(12, ' ')}] ${msg}\r\n`);
  };
  const minor = 60 + Math.floor(rand() * 60);
  k(
    `Linux version 6.1.0-${minor % 30}-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.${minor}-1 (2024-0${1 + (minor % 9)}-1${minor % 10})`,
  );
  const rootUuid = uuid(rand);
  k(
    `Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-${minor % 30}-amd64 root=UUID=${rootUuid} ro console=tty0 console=ttyS0,115200n8`,
  );
  for (const f of [
    'x87 floating point registers',
    'SSE registers',
    'AVX registers',
    'MPX bounds registers',
    'AVX-512 opmask',
  ]) {
    k(`x86/fpu: Supporting XSAVE feature 0x${hex(rand, 3)}: '${f}'`);
  }
  k('signal: max sigframe size: 3632');
  k('BIOS-provided physical RAM map:');
  let addr = 0;
  for (let i = 0; i < 8; i++) {
    const len = Math.floor(rand() * 2 ** 28);
    k(
      `BIOS-e820: [mem 0x${addr.toString(16).padStart(16, '0')}-0x${(addr + len).toString(16).padStart(16, '0')}] ${rand() < 0.7 ? 'usable' : 'reserved'}`,
    );
    addr += len + 1;
  }
  k('NX (Execute Disable) protection: active');
  k('SMBIOS 3.0.0 present.');
  k('DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014');
  k('Hypervisor detected: KVM');
  k(`tsc: Detected ${2000 + Math.floor(rand() * 1500)}.${hex(rand, 3).replace(/[a-f]/g, '0')} MHz processor`);
  for (let i = 0; i < 24; i++) {
    k(
      `ACPI: ${['RSDP', 'RSDT', 'FACP', 'DSDT', 'FACS', 'APIC', 'HPET', 'WAET'][i % 8]} 0x00000000${hex(rand, 8).toUpperCase()} 0000${hex(rand, 2).toUpperCase()} (v0${i % 3} BOCHS  BXPC     00000001 BXPC 00000001)`,
    );
  }
  k(`Zone ranges:`);
  k(`  DMA      [mem 0x0000000000001000-0x0000000000ffffff]`);
  k(`  DMA32    [mem 0x0000000001000000-0x00000000${hex(rand, 8)}]`);
  k(`Kernel/User page tables isolation: enabled`);
  const ncpu = 1 + Math.floor(rand() * 8);
  k(`smpboot: Allowing ${ncpu} CPUs, 0 hotplug CPUs`);
  for (let c = 0; c < ncpu; c++)
    k(`smpboot: CPU ${c}: Intel Xeon Processor (Cascadelake) (family: 0x6, model: 0x55, stepping: 0x6)`);
  k(
    `Memory: ${100000 + Math.floor(rand() * 4000000)}K/${4000000 + Math.floor(rand() * 100000)}K available (14336K kernel code, 2404K rwdata, 9120K rodata, 2796K init, 17376K bss)`,
  );
  for (let bus = 0; bus < 30; bus++) {
    const slot = bus.toString(16).padStart(2, '0');
    k(
      `pci 0000:00:${slot}.${bus % 8}: [${hex(rand, 4)}:${hex(rand, 4)}] type 00 class 0x${PCI_CLASSES[bus % PCI_CLASSES.length]}`,
    );
    if (rand() < 0.6)
      k(
        `pci 0000:00:${slot}.${bus % 8}: reg 0x${(16 + 4 * (bus % 6)).toString(16)}: [${rand() < 0.5 ? 'io ' : 'mem'} 0x${hex(rand, 8)}-0x${hex(rand, 8)}]`,
      );
  }
  // The long middle of a kernel boot: subsystems initialising, each with its own numbers.
  for (let i = 0; i < 420; i++) {
    const n = Math.floor(rand() * 65536);
    switch (Math.floor(rand() * 14)) {
      case 0:
        k(`ACPI: PCI: Interrupt link LNK${'ABCD'[i % 4]} configured for IRQ ${5 + (n % 7)}`);
        break;
      case 1:
        k(`iommu: Default domain type: Translated`);
        break;
      case 2:
        k(`pci_bus 0000:00: resource ${4 + (n % 6)} [mem 0x${hex(rand, 8)}-0x${hex(rand, 8)} window]`);
        break;
      case 3:
        k(
          `input: ${['AT Translated Set 2 keyboard', 'ImExPS/2 Generic Explorer Mouse', 'Power Button', 'VirtualPS/2 VMware VMMouse'][n % 4]} as /devices/platform/i8042/serio${n % 2}/input/input${i % 9}`,
        );
        break;
      case 4:
        k(`random: crng init done`);
        break;
      case 5:
        k(`audit: initializing netlink subsys (disabled)`);
        break;
      case 6:
        k(
          `Freeing unused kernel image (${['initmem', 'text/rodata gap', 'rodata/data gap'][n % 3]}) memory: ${n % 4096}K`,
        );
        break;
      case 7:
        k(`virtio_net virtio0 ens${3 + (n % 4)}: renamed from eth0`);
        break;
      case 8:
        k(`systemd-udevd[${150 + (n % 100)}]: Using default interface naming scheme 'v252'.`);
        break;
      case 9:
        k(`EXT4-fs (vda1): re-mounted ${uuid(rand)}. Quota mode: none.`);
        break;
      case 10:
        k(`Adding ${n * 4}k swap on /dev/vda5.  Priority:-2 extents:1 across:${n * 4}k FS`);
        break;
      case 11:
        k(`cryptd: max_cpu_qlen set to 1000`);
        break;
      case 12:
        k(`AVX2 version of gcm_enc/dec engaged.`);
        break;
      default:
        k(
          `ata${1 + (n % 2)}: PATA max MWDMA2 cmd 0x${hex(rand, 3)} ctl 0x${hex(rand, 3)} bmdma 0x${hex(rand, 4)} irq ${14 + (n % 2)}`,
        );
    }
  }
  k('clocksource: Switched to clocksource kvm-clock');
  k('NET: Registered PF_INET protocol family');
  k('Serial: 8250/16550 driver, 4 ports, IRQ sharing enabled');
  k('00:04: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A');
  k('printk: console [ttyS0] enabled');
  for (let d = 0; d < 2 + Math.floor(rand() * 3); d++) {
    const blocks = Math.floor(rand() * 2 ** 28);
    k(
      `virtio_blk virtio${d + 1}: [vd${'abcdefgh'[d]}] ${blocks} 512-byte logical blocks (${((blocks * 512) / 1e9).toFixed(1)} GB/${((blocks * 512) / 2 ** 30).toFixed(1)} GiB)`,
    );
    k(` vd${'abcdefgh'[d]}: vd${'abcdefgh'[d]}1 vd${'abcdefgh'[d]}14 vd${'abcdefgh'[d]}15`);
  }
  k(`EXT4-fs (vda1): mounted filesystem ${rootUuid} with ordered data mode. Quota mode: none.`);
  k('Run /sbin/init as init process');
  k(
    'systemd[1]: systemd 252.22-1~deb12u1 running in system mode (+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP +GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD +LIBCRYPTSETUP +LIBFDISK +PCRE2 -PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD -BPF_FRAMEWORK -XKBCOMMON +UTMP +SYSVINIT default-hierarchy=unified)',
  );
  k('systemd[1]: Detected virtualization kvm.');
  k(`systemd[1]: Hostname set to <${host}>.`);
  for (let i = 0; i < 40; i++) {
    k(
      `audit: type=1400 audit(${1700000000 + Math.floor(rand() * 1e7)}.${hex(rand, 3).replace(/[a-f]/g, '1')}:${i + 2}): apparmor="STATUS" operation="profile_load" profile="unconfined" name="${['/usr/bin/man', 'lsb_release', 'nvidia_modprobe', '/usr/sbin/chronyd', 'man_filter', 'tcpdump'][i % 6]}" pid=${200 + i} comm="apparmor_parser"`,
    );
  }
  for (const u of UNITS) {
    out.push(`[  OK  ] Started ${u}.\r\n`);
    if (rand() < 0.4) out.push(`         Starting ${UNITS[Math.floor(rand() * UNITS.length)]}...\r\n`);
  }
  for (const tg of TARGETS) out.push(`[  OK  ] Reached target ${tg}.\r\n`);
  for (let i = 0; i < 30; i++) {
    out.push(
      `cloud-init[${400 + i}]: Cloud-init v. 22.4.2 running 'modules:config' at ${new Date(1.7e12 + Math.floor(rand() * 1e10)).toUTCString()}. Up ${(t + i).toFixed(2)} seconds.\r\n`,
    );
    out.push(
      `ci-info: | ${i.toString().padStart(3)} | ${ip(rand).padEnd(15)} | ${ip(rand).padEnd(15)} | 255.255.255.0 | eth0 | UG |\r\n`,
    );
  }
  out.push(`\r\nDebian GNU/Linux 12 ${host} ttyS0\r\n\r\n${host} login: `);
  let runtime = options.runtimeBytes ?? 0;
  while (runtime > 0) {
    t += rand() * 30;
    const r = rand();
    let line: string;
    if (r < 0.45) {
      line = `[${t.toFixed(6).padStart(12, ' ')}] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:${hex(rand, 2)}:${hex(rand, 2)}:${hex(rand, 2)}:fa:16:3e:${hex(rand, 2)}:${hex(rand, 2)}:${hex(rand, 2)}:08:00 SRC=${ip(rand)} DST=${ip(rand)} LEN=${40 + Math.floor(rand() * 60)} TOS=0x00 PREC=0x00 TTL=${30 + Math.floor(rand() * 220)} ID=${Math.floor(rand() * 65536)} PROTO=TCP SPT=${Math.floor(rand() * 65536)} DPT=${[22, 23, 80, 443, 3389, 5900, 8080][Math.floor(rand() * 7)]} WINDOW=${Math.floor(rand() * 65536)} RES=0x00 SYN URGP=0`;
    } else if (r < 0.7) {
      line = `sshd[${1000 + Math.floor(rand() * 60000)}]: ${rand() < 0.5 ? 'Invalid user' : 'Connection closed by authenticating user'} ${['admin', 'test', 'oracle', 'ubuntu', 'postgres', 'git'][Math.floor(rand() * 6)]} ${ip(rand)} port ${Math.floor(rand() * 65536)} [preauth]`;
    } else if (r < 0.85) {
      line = `CRON[${1000 + Math.floor(rand() * 60000)}]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)`;
    } else if (r < 0.95) {
      line = `[${t.toFixed(6).padStart(12, ' ')}] systemd-journald[${180 + Math.floor(rand() * 20)}]: Data hash table of /var/log/journal/${hex(rand, 32)}/system.journal has a fill level at 75.0 (${Math.floor(rand() * 9000)} of ${Math.floor(rand() * 12000)} items), suggesting rotation.`;
    } else {
      line = `[${t.toFixed(6).padStart(12, ' ')}] workqueue: drm_fb_helper_damage_work hogged CPU for >10000us ${Math.floor(rand() * 64)} times, consider switching to WQ_UNBOUND`;
    }
    out.push(line + '\r\n');
    runtime -= line.length + 2;
  }
  return out.join('');
}
