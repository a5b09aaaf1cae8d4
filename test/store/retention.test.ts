import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { planRetention, virtlogdBound } from '../../src/store/retention.js';
import { listSegments } from '../../src/store/segments.js';
import { liveLogPath } from '../../src/store/layout.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

const seg = (uuid: string, key: string, bytes: number, lastTime = '2026-01-01T00:00:00Z') => ({
  uuid,
  key,
  storedBytes: bytes,
  lastTime,
});

test('domain cap removes the oldest segments first and counts live bytes', (t) => {
  const plan = planRetention({
    segments: [
      seg('a', '000000-00000002-h', 100),
      seg('a', '000000-00000001-h', 100),
      seg('a', '000001-00000003-h', 100),
    ],
    liveBytes: { a: 150 },
    domainCapBytes: 300,
    globalCapBytes: 0,
    retentionDays: 0,
    now: new Date('2026-01-02T00:00:00Z'),
  });
  t.deepEqual(
    plan.delete.map((d) => d.key),
    ['000000-00000001-h', '000000-00000002-h'],
  );
  t.deepEqual(plan.overCap, []);
});

test('domain cap: a seal placed after fetched history (orderGeneration) goes after that history', (t) => {
  const plan = planRetention({
    segments: [
      { ...seg('a', '000001-00000002-b', 100), orderGeneration: 3 },
      seg('a', '000000-00000001-a', 100),
      seg('a', '000002-00000005-a', 100),
    ],
    liveBytes: { a: 0 },
    domainCapBytes: 100,
    globalCapBytes: 0,
    retentionDays: 0,
    now: new Date('2026-01-02T00:00:00Z'),
  });
  t.deepEqual(
    plan.delete.map((d) => d.key),
    ['000000-00000001-a', '000002-00000005-a'],
  );
});

test('live files alone over the cap are reported, never deleted', (t) => {
  const plan = planRetention({
    segments: [seg('a', '000000-00000001-h', 10)],
    liveBytes: { a: 500 },
    domainCapBytes: 300,
    globalCapBytes: 0,
    retentionDays: 0,
    now: new Date(),
  });
  t.is(plan.delete.length, 1);
  t.deepEqual(plan.overCap, [{ uuid: 'a', bytes: 500 }]);
});

test('global cap takes the globally oldest segments, retention_days the old ones', (t) => {
  const plan = planRetention({
    segments: [
      seg('a', '000000-00000001-h', 100, '2026-01-03T00:00:00Z'),
      seg('b', '000000-00000001-h', 100, '2026-01-02T00:00:00Z'),
      seg('b', '000000-00000002-h', 100, '2025-01-01T00:00:00Z'),
    ],
    liveBytes: {},
    domainCapBytes: 0,
    globalCapBytes: 150,
    retentionDays: 30,
    now: new Date('2026-01-04T00:00:00Z'),
  });
  t.deepEqual(
    plan.delete.map((d) => `${d.uuid}/${d.key}/${d.why}`),
    ['b/000000-00000002-h/age', 'b/000000-00000001-h/global cap'],
  );
});

test('virtlogd bound from virtlogd.conf', (t) => {
  t.is(virtlogdBound(undefined), 2 * 1024 * 1024 * 4);
  t.is(virtlogdBound('max_size = 65536\n#max_backups = 9\nmax_backups = 2\n'), 65536 * 3);
  t.is(virtlogdBound('max_size = 0\n'), 0);
});

test('release end keeps the domain under its cap (live reserved at virtlogd bound)', async (t) => {
  const { config, env } = hookEnv({ domainCapBytes: 64 * 1024, compressMinBytes: -1 });
  const vconf = join(config.base, 'virtlogd.conf');
  fs.writeFileSync(vconf, 'max_size = 8192\nmax_backups = 1\n');
  const henv = { ...env, VIRT_CONSOLELOG_VIRTLOGD_CONF: vconf };
  process.env.VIRT_CONSOLELOG_VIRTLOGD_CONF = vconf;
  t.teardown(() => delete process.env.VIRT_CONSOLELOG_VIRTLOGD_CONF);
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  for (let boot = 0; boot < 12; boot++) {
    await hook(henv, ['guest1', 'prepare', 'begin', '-'], xml);
    fs.appendFileSync(live, `boot ${boot} `.padEnd(8000, 'x') + '\n');
    if (fs.statSync(live).size > 8192) {
      fs.renameSync(live, live + '.0');
      fs.writeFileSync(live, '');
    }
    await hook(henv, ['guest1', 'release', 'end', 'destroyed'], xml);
    let total = 0;
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name !== '.lock.owner') total += fs.statSync(join(d, e.name)).size;
      }
    };
    walk(join(config.logRoot, UUID));
    t.true(total <= 64 * 1024, `after boot ${boot}: ${total} bytes on disk`);
  }
  t.true(listSegments(config, UUID).length > 0);
});
