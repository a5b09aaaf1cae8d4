// What the numbers were measured on, and how busy the machine was (it is shared).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, freemem, release } from 'node:os';

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  freeMemoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  libvirt: string;
  qemu: string;
}

export interface Load {
  at: string;
  loadavg1: number;
  loadavg5: number;
  loadavg15: number;
  /** Processes running QEMU at this moment (other helpers' lab guests included). */
  qemuProcesses: number;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return (
      execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0] ?? ''
    );
  } catch {
    return 'not installed';
  }
}

export function describeMachine(): Machine {
  let os = 'unknown';
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m?.[1]) os = m[1];
  } catch {
    /* no os-release: keep unknown */
  }
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    os,
    node: process.version,
    libvirt: firstLine('libvirtd', ['--version']),
    qemu: firstLine('qemu-system-x86_64', ['--version']),
  };
}

export function currentLoad(): Load {
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  let qemu = 0;
  try {
    qemu =
      Number(execFileSync('pgrep', ['-c', '-f', '^/usr/bin/qemu-system'], { encoding: 'utf8' }).trim()) || 0;
  } catch {
    qemu = 0; // pgrep exits 1 when nothing matches
  }
  return {
    at: new Date().toISOString(),
    loadavg1: l1,
    loadavg5: l5,
    loadavg15: l15,
    qemuProcesses: qemu,
  };
}

/** A file's text, or '' when it cannot be read (a /proc file of a process that is gone, say). */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
