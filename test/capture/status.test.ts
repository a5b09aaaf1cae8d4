import test from 'ava';
import { hourlyDue } from '../../src/capture/global-retention.js';
import {
  captureCheck,
  describeCapture,
  serviceVerdict,
  type CaptureStatus,
} from '../../src/capture/status.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const status = (over: Partial<CaptureStatus> = {}, lost = 0): CaptureStatus => ({
  pid: 42,
  host: 'hv1',
  started: '2026-12-03T11:00:00.000Z',
  updated: new Date(NOW - 1000).toISOString(),
  watch: 'inotify',
  sealAtBytes: 2048,
  flushMs: 0,
  lastRetention: '2026-12-03T11:00:00.000Z',
  devices: [
    {
      uuid: 'u1',
      domain: 'web1',
      device: 'serial0',
      bytesSeen: 1000,
      capturedBytes: 900,
      lostBytes: lost,
      seals: 3,
      bytesPerSecond: 270,
      unsealedBytes: 100,
      lastSeal: null,
    },
  ],
  ...over,
});

test('the service counts as running only with a live pid and a fresh status', (t) => {
  t.false(serviceVerdict(undefined, false, NOW).running);
  t.regex(serviceVerdict(status(), false, NOW).why, /not running \(pid 42 gone/);
  t.regex(serviceVerdict(status({ updated: new Date(NOW - 60_000).toISOString() }), true, NOW).why, /hung/);
  t.true(serviceVerdict(status(), true, NOW).running);
});

test('the verdict says whether the service answers hook events (older status files: nothing)', (t) => {
  t.notRegex(serviceVerdict(status(), true, NOW).why, /hook events/);
  const answering = status({ hookEvents: { answeredIn: '/run/virt-consolelog/hook-server', answered: 7 } });
  t.regex(serviceVerdict(answering, true, NOW).why, /answering hook events: 7 so far\)$/);
  t.regex(
    captureCheck(status({ hookEvents: { notAnswered: 'VIRT_CONSOLELOG_HOOK_SERVER=0' } }), true, NOW).message,
    /not answering hook events \(VIRT_CONSOLELOG_HOOK_SERVER=0\): each starts Node/,
  );
});

test('doctor: ok when running and keeping up, warn when stopped or when virtlogd deleted bytes first', (t) => {
  t.is(captureCheck(status(), true, NOW).status, 'ok');
  const stopped = captureCheck(undefined, false, NOW);
  t.is(stopped.status, 'warn');
  t.regex(stopped.fix ?? '', /systemctl enable --now virt-consolelog-collect/);
  const behind = captureCheck(status({}, 512), true, NOW);
  t.is(behind.status, 'warn');
  t.regex(behind.message, /not keeping up with web1 serial0 \(512 bytes\)/);
});

test('status: per device rate and bytes lost to virtlogd before capture', (t) => {
  t.is(
    describeCapture(status({}, 7), true, 'u1', NOW),
    'serial0 270 B/s, 900 bytes captured, 7 bytes lost to virtlogd before capture',
  );
  t.regex(describeCapture(status(), false, 'u1', NOW), /sealed at events only/);
  t.regex(describeCapture(status(), true, 'other', NOW), /no device of this domain/);
});

test('hourly: due when never run, an hour after the last run, or when the clock went back', (t) => {
  t.true(hourlyDue(undefined, NOW));
  t.false(hourlyDue(NOW - 3599_000, NOW));
  t.true(hourlyDue(NOW - 3600_000, NOW));
  t.true(hourlyDue(NOW + 60_000, NOW));
});
