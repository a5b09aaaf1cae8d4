// The capture service's status file, <state_dir>/capture/status.json: what `status` and `doctor`
// read to say whether the service runs, keeps up, and what virtlogd deleted before capture.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Config } from '../config/schema.js';

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
}

/** A status older than this means the service is not running (or hangs). */
export const STATUS_STALE_MS = 15_000;

export function captureStatusPath(config: Config): string {
  return posix.join(config.stateDir, 'capture', 'status.json');
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
    why: `running (pid ${status.pid}, ${status.devices.length} device(s), ${status.watch}${lost ? `, ${lost} bytes lost to virtlogd before capture` : ''})`,
  };
}
