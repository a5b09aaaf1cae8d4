// undefined_retention_days on a real temp store: the host-wide step, prune --all, the hook's turn, the service.
import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { hookGlobalRetention } from '../../src/capture/global-retention.js';
import { Collector } from '../../src/capture/service.js';
import { applyUndefinedRetention } from '../../src/capture/undefined-retention.js';
import { liveLogPath } from '../../src/store/layout.js';
import { listDomainUuids } from '../../src/store/find.js';
import { domainXml, hook, hookEnv, runCli, UUID } from '../lifecycle/helpers.js';

const UUID2 = '99999999-2222-3333-4444-555555555555';
const later = (days: number) => new Date(Date.now() + days * 86_400_000);

/** Two domains of this host, each run once and stopped; the second one's live file has unsealed bytes. */
async function store() {
  const h = hookEnv({ compressMinBytes: -1 });
  const { config, env } = h;
  for (const uuid of [UUID, UUID2]) {
    const live = liveLogPath(config.liveDir, uuid, 'serial0');
    const xml = domainXml(
      `<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`,
      uuid === UUID ? 'gone1' : 'gone2',
    ).replace(UUID, uuid);
    await hook(env, [uuid === UUID ? 'gone1' : 'gone2', 'prepare', 'begin', '-'], xml);
    fs.appendFileSync(live, 'hello\n');
    await hook(env, [uuid === UUID ? 'gone1' : 'gone2', 'release', 'end', 'destroyed'], xml);
  }
  fs.appendFileSync(liveLogPath(config.liveDir, UUID2, 'serial0'), 'not sealed yet\n');
  return h;
}

test('past the grace, a domain libvirt does not list is forgotten; unsealed or listed ones are kept', async (t) => {
  const { config } = await store();
  t.deepEqual(listDomainUuids(config), [UUID, UUID2].sort());
  const logs: string[] = [];
  // Inside the grace: nothing.
  let r = await applyUndefinedRetention(config, later(29), { uuids: [] }, (m) => logs.push(m));
  t.deepEqual(r.forgotten, []);
  // libvirt lists the first one: kept.
  r = await applyUndefinedRetention(config, later(31), { uuids: [UUID.toUpperCase()] }, (m) => logs.push(m));
  t.deepEqual(r.forgotten, []);
  // libvirt not reachable: nothing, and it says why.
  r = await applyUndefinedRetention(config, later(31), { unknown: 'libvirtd down' }, (m) => logs.push(m));
  t.deepEqual(r.forgotten, []);
  t.true(
    logs.some((l) =>
      /nothing forgotten: libvirt could not be asked which domains it lists \(libvirtd down\)/.test(l),
    ),
  );
  t.deepEqual(listDomainUuids(config), [UUID, UUID2].sort());
  // Not listed, old: forgotten, folder gone; the one with unsealed live bytes stays.
  r = await applyUndefinedRetention(config, later(31), { uuids: [] }, (m) => logs.push(m));
  t.deepEqual(
    r.forgotten.map((f) => f.uuid),
    [UUID],
  );
  t.false(fs.existsSync(join(config.logRoot, UUID)));
  t.deepEqual(listDomainUuids(config), [UUID2]);
  t.true(logs.some((l) => l.includes(`${UUID2} kept: 15 bytes of its live files are not sealed yet`)));
});

test('prune --all --dry-run names the domain it would forget and deletes nothing', async (t) => {
  const { config, env } = await store();
  // No libvirt here at this URI: prune says so and forgets nothing.
  const r = await runCli({ ...env, LIBVIRT_DEFAULT_URI: 'test:///nonexistent-file.xml' }, [
    'prune',
    '--all',
    '--dry-run',
  ]);
  t.is(r.code, 0, r.err);
  t.regex(r.err, /undefined_retention_days: nothing forgotten: libvirt could not be asked/);
  t.notRegex(r.out, /forget/);
  t.deepEqual(listDomainUuids(config), [UUID, UUID2].sort());
});

test('prune --all forgets, with libvirt asked (its test driver), what the grace let go', async (t) => {
  const { config, env } = await store();
  fs.appendFileSync(env.VIRT_CONSOLELOG_CONFIG, 'undefined_retention_days = 0.00001\n'); // 0.864 s
  const ended = Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, ended + 1000 - Date.now())));
  const libvirt = { ...env, LIBVIRT_DEFAULT_URI: 'test:///default' };
  const dry = await runCli(libvirt, ['prune', '--all', '--dry-run']);
  t.is(dry.code, 0, dry.err);
  t.regex(dry.out, new RegExp(`${UUID} would forget its whole history`));
  t.notRegex(dry.out, new RegExp(UUID2), 'unsealed live bytes: kept');
  t.deepEqual(listDomainUuids(config), [UUID, UUID2].sort());
  const real = await runCli(libvirt, ['prune', '--all']);
  t.is(real.code, 0, real.err);
  t.regex(real.out, new RegExp(`${UUID} forgot its whole history`));
  t.regex(real.out, /forgot 1 domain\(s\)/);
  t.deepEqual(listDomainUuids(config), [UUID2]);
});

test('the hook starts the forget job in its hourly turn, and only when some history is old enough', async (t) => {
  const { config } = await store();
  const stamp = join(config.stateDir, 'capture', 'global-retention');
  let jobs = 0;
  const job = async () => void jobs++;
  // Nothing older than 30 days: no job.
  fs.rmSync(stamp, { force: true });
  await hookGlobalRetention(config, new Date(), () => undefined, job);
  t.is(jobs, 0);
  // 31 days on: a job; the hook deleted nothing itself (it may not ask libvirt).
  fs.rmSync(stamp, { force: true });
  await hookGlobalRetention(config, later(31), () => undefined, job);
  t.is(jobs, 1);
  t.deepEqual(listDomainUuids(config), [UUID, UUID2].sort());
  // Not again within the hour (the stamp was just written).
  await hookGlobalRetention(config, new Date(), () => undefined, job);
  t.is(jobs, 1);
  // undefined_retention_days = 0 (and no global cap): the hook does nothing at all.
  fs.rmSync(stamp, { force: true });
  await hookGlobalRetention({ ...config, undefinedRetentionDays: 0 }, later(31), () => undefined, job);
  t.is(jobs, 1);
  t.false(fs.existsSync(stamp));
});

test('the capture service forgets, in its retention run, a domain libvirt does not list', async (t) => {
  const { config } = await store();
  const created = Date.now();
  process.env.LIBVIRT_DEFAULT_URI = 'test:///default'; // libvirt's test driver: lists only its "test"
  t.teardown(() => delete process.env.LIBVIRT_DEFAULT_URI);
  const grace = { ...config, undefinedRetentionDays: 0.00001 }; // 0.864 s
  await new Promise((r) => setTimeout(r, Math.max(0, created + 1000 - Date.now())));
  const logs: string[] = [];
  const c = new Collector(grace, { retentionMs: 0, pollMs: 0, virtlogdConf: '', log: (m) => logs.push(m) });
  await c.tick(Date.now());
  await c.settled();
  await c.stop();
  t.false(listDomainUuids(config).includes(UUID), logs.join('\n'));
  t.true(logs.some((l) => l.includes(`forgot ${UUID}`)));
});
