// The capture service's status file, <state_dir>/capture/status.json: what `status` and `doctor`
// read to say whether the service runs, keeps up, and what virtlogd deleted before capture.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';
import { captureStateDir } from '../store/domains-changed.js';

export interface DeviceStatus {
  uuid: string;
  domain: string;
  device: string;
  /** Bytes the guest wrote while the service watched. */
  bytesSeen: number;
  capturedBytes: number;
  /** Bytes virtlogd deleted before the service sealed them (the guest printed faster than it kept up). */
  lostBytes: number;
  seals: number;
  bytesPerSecond: number;
  unsealedBytes: number;
  lastSeal: string | null;
  error?: string;
}

export interface CaptureStatus {
  pid: number;
  host: string;
  started: string;
  /** Rewritten every 2 s while the service runs. */
  updated: string;
  watch: 'inotify' | 'poll';
  sealAtBytes: number;
  flushMs: number;
  lastRetention: string;
  devices: DeviceStatus[];
  /** Whether this process answers the hook's events (src/hook-server/); absent in older files. */
  hookEvents?: HookEventsStatus;
}

export type HookEventsStatus = { answeredIn: string; answered: number } | { notAnswered: string };

/** A status older than this means the service is not running (or hangs). */
export const STATUS_STALE_MS = 15_000;

export function captureStatusPath(config: Config): string {
  return posix.join(captureStateDir(config), 'status.json');
}

export function writeCaptureStatus(config: Config, status: CaptureStatus): void {
  const path = captureStatusPath(config);
  fs.mkdirSync(posix.dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(status) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, path);
}

export function readCaptureStatus(config: Config): CaptureStatus | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(captureStatusPath(config), 'utf8')) as CaptureStatus;
    return typeof v.pid === 'number' && Array.isArray(v.devices) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the status says a live service (pure: the caller says whether the pid runs). */
export function serviceVerdict(
  status: CaptureStatus | undefined,
  pidRuns: boolean,
  now: number,
): { running: boolean; why: string } {
  if (!status) return { running: false, why: 'never ran on this host (no status file)' };
  if (!pidRuns)
    return { running: false, why: `not running (pid ${status.pid} gone since ${status.updated})` };
  const age = now - Date.parse(status.updated);
  if (!(age <= STATUS_STALE_MS))
    return {
      running: false,
      why: `pid ${status.pid} runs but its status is ${Math.round(age / 1000)} s old (hung?)`,
    };
  const lost = status.devices.reduce((n, d) => n + d.lostBytes, 0);
  return {
    running: true,
    why: `running (pid ${status.pid}, ${status.devices.length} device(s), ${status.watch}${lost ? `, ${lost} bytes lost to virtlogd before capture` : ''}${describeHookEvents(status.hookEvents)})`,
  };
}

function describeHookEvents(h: HookEventsStatus | undefined): string {
  if (!h) return '';
  if ('answeredIn' in h) return `, answering hook events: ${h.answered} so far`;
  return `, not answering hook events (${h.notAnswered}): each starts Node`;
}

/** status's line for one domain: the service verdict and each device's rate and losses. */
export function describeCapture(
  status: CaptureStatus | undefined,
  running: boolean,
  uuid: string,
  now: number,
): string {
  const verdict = serviceVerdict(status, running, now);
  const mine = status?.devices.filter((d) => d.uuid === uuid) ?? [];
  if (!verdict.running) return `service ${verdict.why}: sealed at events only`;
  if (!mine.length) return `service running; no device of this domain followed on ${status?.host}`;
  return mine
    .map(
      (d) =>
        `${d.device} ${d.bytesPerSecond} B/s, ${d.capturedBytes} bytes captured, ${d.lostBytes} bytes lost to virtlogd before capture${d.error ? ` (${d.error})` : ''}`,
    )
    .join('; ');
}

/** doctor's check of the capture service: running, fresh, and keeping up (nothing lost to virtlogd). */
export function captureCheck(
  status: CaptureStatus | undefined,
  pidRuns: boolean,
  now: number,
): { name: string; status: 'ok' | 'warn'; message: string; fix?: string } {
  const v = serviceVerdict(status, pidRuns, now);
  if (!v.running)
    return {
      name: 'capture',
      status: 'warn',
      message: `capture service ${v.why}: output beyond virtlogd's max_size x (max_backups + 1) between two events is lost, and lines get coarse times`,
      fix: 'systemctl enable --now virt-consolelog-collect (without systemd: run virt-consolelog collect as a service)',
    };
  const lost = (status as CaptureStatus).devices.filter((d) => d.lostBytes > 0);
  if (lost.length)
    return {
      name: 'capture',
      status: 'warn',
      message: `${v.why}; not keeping up with ${lost.map((d) => `${d.domain} ${d.device} (${d.lostBytes} bytes)`).join(', ')}`,
      fix: 'raise max_size (and max_backups) in /etc/libvirt/virtlogd.conf, then systemctl restart virtlogd at a quiet moment',
    };
  return { name: 'capture', status: 'ok', message: v.why };
}
