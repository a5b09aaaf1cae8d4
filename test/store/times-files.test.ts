import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { compactTimes, pointLine, timesFileName } from '../../src/capture/times.js';
import { readDomainStateOf } from '../../src/store/find.js';
import { liveLogPath } from '../../src/store/layout.js';
import { applyDomainRetention, liveBytesOf } from '../../src/store/retention.js';
import { listSegments } from '../../src/store/segments.js';
import { withStore } from '../../src/store/session.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

test('compactTimes keeps the points of files in use, drops the others and torn lines', (t) => {
  const text =
    pointLine({ dev: 1, ino: 2, birth: 3 }, { offset: 10, time: 100 }) +
    pointLine({ dev: 1, ino: 5, birth: 0 }, { offset: 20, time: 200 }) +
    '[1,2,3,\n' +
    pointLine({ dev: 1, ino: 2, birth: 3 }, { offset: 30, time: 300 });
  t.is(
    compactTimes(text, (k) => k === '1:2:3'),
    '[1,2,3,10,100]\n[1,2,3,30,300]\n',
  );
  t.is(
    compactTimes('[1,2,3,10,100]\n', () => true),
    undefined,
    'nothing to drop: no rewrite',
  );
});

/** One stop sealed a segment of the live file, which then went (undefined guest, rotated away). */
async function sealedThenGone() {
  const { config, env } = hookEnv({ compressMinBytes: -1 });
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, 'line one\nline two\n');
  const old = new Date(Date.now() - 10 * 86_400_000);
  fs.utimesSync(live, old, old);
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  const seg = listSegments(config, UUID)[0];
  if (!seg) throw new Error('no segment sealed');
  fs.rmSync(live);
  const times = join(config.logRoot, UUID, timesFileName(config.hostName));
  const mine = { dev: seg.origin.dev, ino: seg.origin.ino, birth: seg.watermark?.birthtimeMs ?? 0 };
  fs.writeFileSync(times, pointLine(mine, { offset: 9, time: 1 }) + pointLine(mine, { offset: 18, time: 2 }));
  return { config, seg, times, mine };
}

test('a segment kept keeps its time points; once retention deletes it, its points go too', async (t) => {
  const { config, seg, times } = await sealedThenGone();
  const before = fs.readFileSync(times, 'utf8');
  // retention_days 30: the segment (10 days old) stays, and so do its points.
  await withStore({ ...config, retentionDays: 30 }, UUID, (s) => applyDomainRetention(s, new Date()));
  t.is(fs.readFileSync(times, 'utf8'), before);
  // retention_days 5: the segment goes, its points with it (a new file: renamed into place).
  const ino = fs.statSync(times).ino;
  const r = await withStore({ ...config, retentionDays: 5 }, UUID, (s) =>
    applyDomainRetention(s, new Date()),
  );
  t.deepEqual(
    r.deleted.map((d) => d.key),
    [seg.key],
  );
  t.is(fs.readFileSync(times, 'utf8'), '');
  t.not(fs.statSync(times).ino, ino);
  t.deepEqual(
    fs.readdirSync(join(config.logRoot, UUID)).filter((n) => n.startsWith('.tmp-')),
    [],
  );
});

test('time files count against domain_cap_bytes', async (t) => {
  const { config, times } = await sealedThenGone();
  const state = readDomainStateOf(config, UUID);
  if (!state) throw new Error('no domain.json');
  const before = liveBytesOf(config, state);
  fs.appendFileSync(times, 'x'.repeat(5000));
  t.is(liveBytesOf(config, state), before + 5000);
  // A cap the segment alone fits under, but not with the time file: the segment goes.
  const seg = listSegments(config, UUID)[0]!;
  const cap = before + seg.storedBytes + seg.sidecarBytes + 100;
  const r = await withStore({ ...config, domainCapBytes: cap }, UUID, (s) =>
    applyDomainRetention(s, new Date()),
  );
  t.is(r.deleted[0]?.why, 'domain cap');
});
