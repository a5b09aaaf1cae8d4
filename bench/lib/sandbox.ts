// A private mount namespace in which a hook sees temp folders at /etc/virt-consolelog and
// /var/lib/virt-consolelog, so that benchmarks never touch the machine's real paths.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CONFIG_DIR = '/etc/virt-consolelog';
export const STATE_DIR = '/var/lib/virt-consolelog';

/** The mount namespace of this process (e.g. "mnt:[4026531841]"): the parent passes its own to the worker. */
export function mountNamespace(): string {
  return readlinkSync('/proc/self/ns/mnt');
}

/** Throws unless this process runs in another mount namespace than its parent's (unshare -m). */
export function assertPrivateMountNamespace(parentNamespace: string): void {
  if (!parentNamespace || mountNamespace() === parentNamespace)
    throw new Error('refusing to mount: not in a private mount namespace (run under unshare -m)');
}

function mount(args: string[]): void {
  execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Overlays /etc and /var/lib (writes land in `root`, so the mount points can be created without touching
 * the real ones), then binds `root/conf` and `root/state` over the plugin's config and state folders.
 * /run/libvirt is hidden too: nothing started from a hook can reach a real libvirtd.
 */
export function enterSandbox(root: string, parentNamespace: string): { confDir: string; stateDir: string } {
  assertPrivateMountNamespace(parentNamespace);
  mount(['--make-rprivate', '/']);
  for (const [lower, name] of [
    ['/etc', 'etc'],
    ['/var/lib', 'varlib'],
  ] as const) {
    const up = join(root, 'overlay', name, 'up');
    const work = join(root, 'overlay', name, 'work');
    mkdirSync(up, { recursive: true });
    mkdirSync(work, { recursive: true });
    mount(['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${up},workdir=${work}`, lower]);
  }
  const confDir = join(root, 'conf');
  const stateDir = join(root, 'state');
  mkdirSync(confDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  mkdirSync(CONFIG_DIR, { recursive: true });
  mkdirSync(STATE_DIR, { recursive: true });
  mount(['--bind', confDir, CONFIG_DIR]);
  mount(['--bind', stateDir, STATE_DIR]);
  mkdirSync('/run/libvirt', { recursive: true });
  mount(['-t', 'tmpfs', 'tmpfs', '/run/libvirt']);
  return { confDir, stateDir };
}

export interface BenchConfig {
  logRoot: string;
  /** live_dir: never the machine's own /var/log/libvirt/qemu. */
  liveDir: string;
  allowedRoots: string[];
  hostName: string;
  extra?: Record<string, string>;
}

/** The config file text (libvirt .conf syntax, see src/config/parse.ts). */
export function configText(c: BenchConfig): string {
  const lines = [
    `log_root = "${c.logRoot}"`,
    `live_dir = "${c.liveDir}"`,
    `state_dir = "${STATE_DIR}"`,
    `host_name = "${c.hostName}"`,
    `allowed_roots = [ ${c.allowedRoots.map((r) => `"${r}"`).join(', ')} ]`,
    // The detached definition upgrade would call virsh after each started event: not part of a hook's cost.
    'auto_enable = 0',
  ];
  for (const [k, v] of Object.entries(c.extra ?? {})) lines.push(`${k} = ${v}`);
  return lines.join('\n') + '\n';
}

export function writeConfig(confDir: string, c: BenchConfig): string {
  const path = join(confDir, 'virt-consolelog.conf');
  writeFileSync(path, configText(c));
  return path;
}
