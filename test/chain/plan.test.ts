import test from 'ava';
import { chainNames, novaView, planChain, readInPlace, type ChainEntry } from '../../src/chain/plan.js';
import { chainTargetsAfterFetch, chainTargetsAtPrepare } from '../../src/chain/targets.js';
import { DEFAULTS } from '../../src/config/schema.js';

const base = 'console.log';
const e = (index: number | undefined, over: Partial<ChainEntry> = {}): ChainEntry => ({
  name: index === undefined ? base : `${base}.${index}`,
  index,
  size: 10,
  sealed: true,
  ours: false,
  ...over,
});

test('clear: every sealed file goes (the log first, then the oldest), nothing is written', (t) => {
  const plan = planChain({
    mode: 'clear',
    base,
    entries: [e(undefined), e(0), e(1, { ours: true, sealed: true }), e(2)],
    contentBytes: 500,
    maxBackups: 3,
  });
  t.deepEqual(plan, { unlink: [base, 'console.log.2', 'console.log.1', 'console.log.0'] });
});

test('clear: an unsealed file keeps everything as it is', (t) => {
  const plan = planChain({
    mode: 'clear',
    base,
    entries: [e(undefined), e(0, { sealed: false })],
    contentBytes: 500,
    maxBackups: 3,
  });
  t.deepEqual(plan.unlink, []);
  t.is(plan.write, undefined);
  t.regex(plan.skip ?? '', /console\.log\.0 not sealed/);
});

test('clear: removes the stale files, writes nothing', (t) => {
  t.deepEqual(
    planChain({
      mode: 'clear',
      base,
      entries: [e(undefined), e(0, { ours: true })],
      contentBytes: 9,
      maxBackups: 3,
    }),
    { unlink: [base, 'console.log.0'] },
  );
  t.truthy(planChain({ mode: 'clear', base, entries: [], contentBytes: 0, maxBackups: 3 }).skip);
});

test('arrival: one new name behind virtlogd backups, never an unlink', (t) => {
  const unsealed = { sealed: false };
  t.deepEqual(
    planChain({ mode: 'arrival', base, entries: [e(undefined, unsealed)], contentBytes: 5, maxBackups: 3 }),
    { unlink: [], write: 'console.log.0' },
  );
  t.deepEqual(
    planChain({
      mode: 'arrival',
      base,
      entries: [e(undefined, unsealed), e(0, unsealed), e(1, unsealed)],
      contentBytes: 5,
      maxBackups: 3,
    }),
    { unlink: [], write: 'console.log.2' },
  );
  // virtlogd's slots are full: a file at .3 would stay behind when virtlogd drops .2 (a gap).
  t.regex(
    planChain({
      mode: 'arrival',
      base,
      entries: [e(undefined), e(0), e(1), e(2)],
      contentBytes: 5,
      maxBackups: 3,
    }).skip ?? '',
    /no room/,
  );
  t.regex(
    planChain({
      mode: 'arrival',
      base,
      entries: [e(undefined), e(0, { ours: true })],
      contentBytes: 5,
      maxBackups: 3,
    }).skip ?? '',
    /already/,
  );
  t.regex(
    planChain({ mode: 'arrival', base, entries: [], contentBytes: 5, maxBackups: 3 }).skip ?? '',
    /missing/,
  );
  t.regex(
    planChain({ mode: 'arrival', base, entries: [e(undefined), e(2)], contentBytes: 5, maxBackups: 3 })
      .skip ?? '',
    /unexpected/,
  );
  t.truthy(
    planChain({ mode: 'arrival', base, entries: [e(undefined)], contentBytes: 0, maxBackups: 3 }).skip,
  );
});

test('chainNames and novaView read as virtlogd names and Nova walks', (t) => {
  t.deepEqual(
    chainNames(base, [
      'console.log.10',
      'console.log',
      'console.log.0',
      'console.log.x',
      'console.log.01',
    ]).map((n) => n.name),
    ['console.log.0', 'console.log.10'],
  );
  const sizes = new Map([
    [base, 60 * 1024],
    ['console.log.0', 60 * 1024],
    ['console.log.2', 5],
  ]);
  t.deepEqual(novaView(base, sizes), { bytes: 100 * 1024, files: [base, 'console.log.0'] });
  t.deepEqual(novaView(base, new Map([['console.log.0', 4]])), { bytes: 0, files: [] });
});

const config = { ...DEFAULTS, allowedRoots: [...DEFAULTS.allowedRoots] };
const nova = '/var/lib/nova/instances/i-1/console.log';

test('only logs read in place get a chain, and only when chain_logs is on', (t) => {
  t.true(readInPlace(config, nova));
  t.false(readInPlace(config, '/var/log/libvirt/qemu/x.serial0.console'));
  t.false(readInPlace(config, '/var/log/libvirt/consolelog/x/y.log'));
  t.false(readInPlace(config, '/srv/elsewhere/console.log'));
  const seal = [
    { device: 'serial0', path: nova, truncateNext: true, reason: 'restart' as const, unknownBootAt0: false },
    {
      device: 'serial1',
      path: '/var/log/libvirt/qemu/a.console',
      truncateNext: true,
      reason: 'restart' as const,
      unknownBootAt0: false,
    },
  ];
  const prev = { generation: 0, devices: {}, lastEvent: { kind: 'release', at: '' } };
  const devices = { serial0: { path: nova, kind: 'log' as const, truncating: false } };
  t.deepEqual(chainTargetsAtPrepare({ config, seal, devices, prev, continuing: false, sharedStore: false }), [
    { device: 'serial0', path: nova, mode: 'clear', afterStart: true },
  ]);
  t.deepEqual(
    chainTargetsAtPrepare({
      config: { ...config, chainLogs: false },
      seal,
      devices,
      prev,
      continuing: false,
      sharedStore: false,
    }),
    [],
  );
  t.deepEqual(
    chainTargetsAtPrepare({ config, seal: [], devices, prev, continuing: true, sharedStore: false }),
    [{ device: 'serial0', path: nova, mode: 'clear' }],
  );
  // Shared store (shared instance folder): the file may be the source's live log.
  t.deepEqual(
    chainTargetsAtPrepare({ config, seal: [], devices, prev, continuing: true, sharedStore: true }),
    [],
  );
  t.deepEqual(
    chainTargetsAtPrepare({
      config,
      seal: [],
      devices,
      prev: { ...prev, lastEvent: { kind: 'prepare', at: '' } },
      continuing: true,
      sharedStore: false,
    }),
    [],
  );
  t.deepEqual(chainTargetsAfterFetch(config, { ...prev, devices, lastEvent: { kind: 'prepare', at: '' } }), [
    { device: 'serial0', path: nova, mode: 'arrival' },
  ]);
  t.deepEqual(chainTargetsAfterFetch(config, { ...prev, devices }), []);
});
