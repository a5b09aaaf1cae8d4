import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { IMPORTED_TIMES_FILE, identityOf, importedLine } from '../../src/capture/imported-times.js';
import { compactTimes, pointLine, timesFileName } from '../../src/capture/times.js';
import { withDomainLock } from '../../src/store/lock.js';
import { importSegment } from '../../src/store/segment-content.js';
import type { SegmentMeta } from '../../src/store/types.js';
import { ensureDomainDir } from '../../src/store/store.js';
import { tempConfig } from './helpers.js';
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

/** Two segments imported from lab-a (10 and 1 days old), each with its imported points. */
async function importedPair() {
  const config = tempConfig({ compressMinBytes: -1 });
  ensureDomainDir(config, UUID).close();
  const keep: string[] = [];
  for (const [i, days] of [10, 1].entries()) {
    const body = Buffer.from(`line ${i}\n`);
    const at = new Date(Date.now() - days * 86_400_000).toISOString();
    const meta = {
      version: 1,
      key: `000000-0000000${i + 1}-lab-a`,
      host: 'lab-a',
      generation: 0,
      seq: i + 1,
      device: 'serial0',
      reason: 'stop',
      origin: { host: 'lab-a', path: '/x/serial0.log', dev: 1, ino: 2, start: i * 7, end: i * 7 + 7 },
      plainBytes: body.length,
      lines: 1,
      firstTime: at,
      lastTime: at,
      sha256: createHash('sha256').update(body).digest('hex'),
      boots: [],
      sealedAt: at,
    } as SegmentMeta;
    await withDomainLock(config, UUID, () => importSegment(config, UUID, meta, Readable.from([body])));
    keep.push(importedLine(identityOf(meta), [{ offset: i * 7 + 7, time: Date.parse(at) }]));
  }
  const file = join(config.logRoot, UUID, IMPORTED_TIMES_FILE);
  fs.writeFileSync(file, keep.join(''));
  return { config, file, lines: keep };
}

test('imported points live as long as their imported segment, and count against the cap', async (t) => {
  const { config, file, lines } = await importedPair();
  const state = readDomainStateOf(config, UUID);
  if (!state) throw new Error('no domain.json');
  const before = liveBytesOf(config, state);
  fs.appendFileSync(file, 'x'.repeat(3000));
  t.is(liveBytesOf(config, state), before + 3000, 'counted like the hosts’ times files');
  fs.writeFileSync(file, lines.join(''));
  await withStore({ ...config, retentionDays: 30 }, UUID, (s) => applyDomainRetention(s, new Date()));
  t.is(fs.readFileSync(file, 'utf8'), lines.join(''), 'both segments kept: both entries kept');
  const r = await withStore({ ...config, retentionDays: 5 }, UUID, (s) =>
    applyDomainRetention(s, new Date()),
  );
  t.deepEqual(
    r.deleted.map((d) => d.key),
    ['000000-00000001-lab-a'],
  );
  t.is(fs.readFileSync(file, 'utf8'), lines[1]!, 'the deleted segment’s entry went, the kept one stayed');
});
