// Every CLI command, in the order `virt-consolelog --help` lists them. Only names and summaries live
// here: a command's module (and what it imports: execa, the XML parser, the transfer code) loads when
// that command runs or prints its help, so `show` does not pay for `sync`.
import type { CommandEntry } from './command.js';

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'rewrite',
    summary: 'rewrite domain XML on stdin so every serial/console logs in append mode',
    load: async () => (await import('./commands/rewrite.js')).rewriteCommand,
  },
  {
    name: 'show',
    summary: "print a domain's console history, oldest first, across restarts, rotations and hosts",
    load: async () => (await import('./commands/show.js')).showCommand,
  },
  {
    name: 'status',
    summary: 'capture mode, disk use against caps, boots, hosts and last problems per domain',
    load: async () => (await import('./commands/status.js')).statusCommand,
  },
  {
    name: 'prune',
    summary: 'apply the disk caps, retention_days and undefined_retention_days now (normally automatic)',
    load: async () => (await import('./commands/prune.js')).pruneCommand,
  },
  {
    name: 'collect',
    summary: 'the capture service: seal every live log before virtlogd rotates it away, time every line',
    load: async () => (await import('./commands/collect.js')).collectCommand,
  },
  {
    name: 'enable',
    summary: 'rewrite persistent definitions so every serial/console is logged from the next start',
    load: async () => (await import('./commands/enable.js')).enableCommand,
  },
  {
    name: 'disable',
    summary: "restore the chardev elements 'enable' recorded (byte for byte); auto mode then skips it",
    load: async () => (await import('./commands/disable.js')).disableCommand,
  },
  {
    name: 'sync',
    summary: "fetch or complete a migrated domain's history from its previous host",
    load: async () => (await import('./commands/sync.js')).syncCommand,
  },
  {
    name: 'serve-export',
    summary: "read-only export of one domain's history to a peer (ssh forced command)",
    load: async () => (await import('./commands/serve-export.js')).serveExportCommand,
  },
  {
    name: 'keys',
    summary: "print the transfer key's authorized_keys line for peers (--generate creates the key)",
    load: async () => (await import('./commands/keys.js')).keysCommand,
  },
  {
    name: 'doctor',
    summary: 'check this host (libvirt, QEMU, virtlogd, hook, store, disks, key, peers) and say what to fix',
    load: async () => (await import('./commands/doctor.js')).doctorCommand,
  },
  {
    name: 'list-domains',
    summary: 'internal: names of the domains in the store, for bash completion',
    hidden: true,
    load: async () => (await import('./commands/list-domains.js')).listDomainsCommand,
  },
  {
    name: 'auto-enable',
    summary: 'internal: the automatic mode job the hook starts after a guest event',
    hidden: true,
    load: async () => (await import('./commands/auto-enable.js')).autoEnableCommand,
  },
  {
    name: 'chain-layout',
    summary: "internal: lays a log's earlier history out as a reader chain after a truncating start",
    hidden: true,
    load: async () => (await import('./commands/chain-layout.js')).chainLayoutCommand,
  },
  {
    name: 'forget-undefined',
    summary: 'internal: forgets the history of domains libvirt no longer lists (undefined_retention_days)',
    hidden: true,
    load: async () => (await import('./commands/forget-undefined.js')).forgetUndefinedCommand,
  },
];
