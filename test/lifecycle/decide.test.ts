import test from 'ava';
import { capturedSource, decidePrepare } from '../../src/lifecycle/decide-prepare.js';
import { decideStop } from '../../src/lifecycle/decide-stop.js';
import { emptyDomainState, withHost } from '../../src/store/domain-state.js';
import type { ChardevInfo } from '../../src/xml/chardevs.js';

const boot = { id: 'b1', host: 'h', at: '2026-01-01T00:00:00.000Z' };
const dev = (over: Partial<ChardevInfo>): ChardevInfo => ({
  device: 'serial0',
  element: 'serial',
  type: 'pty',
  isSerialAlias: false,
  ...over,
});

test('captured source: <log> first, then a file backend; aliases and plain pty none', (t) => {
  t.deepEqual(capturedSource(dev({ logFile: '/l', logAppend: true })), {
    path: '/l',
    kind: 'log',
    truncating: false,
  });
  t.deepEqual(capturedSource(dev({ logFile: '/l' })), { path: '/l', kind: 'log', truncating: true });
  t.deepEqual(capturedSource(dev({ type: 'file', sourcePath: '/f' })), {
    path: '/f',
    kind: 'file',
    truncating: true,
  });
  t.deepEqual(capturedSource(dev({ type: 'file', sourcePath: '/f', sourceAppend: true })), {
    path: '/f',
    kind: 'file',
    truncating: false,
  });
  t.is(capturedSource(dev({})), undefined);
  t.is(
    capturedSource(dev({ element: 'console', device: 'console0', isSerialAlias: true, logFile: '/l' })),
    undefined,
  );
});

test('prepare: truncating sources are sealed, append logs get a marker, generation is max-ed', (t) => {
  const state = { ...emptyDomainState('u'), maxGeneration: 3 };
  const plan = decidePrepare({
    host: 'h',
    chardevs: [
      dev({ type: 'file', sourcePath: '/f' }),
      dev({ device: 'console1', element: 'console', logFile: '/c', logAppend: true }),
    ],
    metadata: { generation: 1 },
    state,
    boot,
  });
  t.is(plan.generation, 3);
  t.deepEqual(
    plan.seal.map((s) => [s.device, s.reason, s.truncateNext]),
    [['serial0', 'restart', true]],
  );
  t.deepEqual(plan.markers, [{ device: 'console1', path: '/c' }]);
  t.is(plan.devices.serial0?.boot, boot);
});

test('prepare: a source the XML no longer uses is sealed first; unparsed XML seals all known', (t) => {
  let state = emptyDomainState('u');
  state = withHost(state, 'h', {
    generation: 0,
    devices: { serial0: { path: '/old', kind: 'file', truncating: true, boot } },
  });
  const plan = decidePrepare({
    host: 'h',
    chardevs: [dev({ logFile: '/new', logAppend: true })],
    metadata: {},
    state,
    boot: { ...boot, id: 'b2' },
  });
  t.deepEqual(
    plan.seal.map((s) => [s.path, s.reason, s.boot?.id]),
    [['/old', 'source-changed', 'b1']],
  );
  const unparsed = decidePrepare({ host: 'h', chardevs: undefined, metadata: {}, state, boot });
  t.deepEqual(
    unparsed.seal.map((s) => [s.path, s.reason, s.truncateNext]),
    [['/old', 'unparsed-xml', true]],
  );
});

test('prepare: an arriving migration continues its boot: logs listed, no marker, no new boot', (t) => {
  const state = withHost(emptyDomainState('u'), 'h', {
    generation: 0,
    devices: { serial0: { path: '/log', kind: 'log', truncating: false, boot } },
  });
  const input = { host: 'h', metadata: {}, state, boot: { ...boot, id: 'b2' } };
  const chardevs = [dev({ logFile: '/log', logAppend: true })];
  const starting = decidePrepare({ ...input, chardevs });
  t.true(starting.writeMarkers);
  t.is(starting.devices.serial0?.boot?.id, 'b2');
  const arriving = decidePrepare({ ...input, chardevs, continuing: true });
  t.false(arriving.writeMarkers);
  t.deepEqual(arriving.markers, [{ device: 'serial0', path: '/log' }], 'the log is still created if missing');
  t.deepEqual(arriving.devices.serial0, { path: '/log', kind: 'log', truncating: false });
  const unparsed = decidePrepare({ ...input, chardevs: undefined, continuing: true });
  t.deepEqual(unparsed.devices.serial0, { path: '/log', kind: 'log', truncating: true });
});

// A type='file' backend's byte 0 begins a boot; only a device domain.json lost (or never saw) has no
// record of which one. Known without a boot, it continued a migrated boot: no boundary there.
test('prepare: a file backend domain.json does not know begins an unknown boot at byte 0', (t) => {
  const chardevs = [dev({ type: 'file', sourcePath: '/f' }), dev({ device: 'serial1', logFile: '/l' })];
  const input = { host: 'h', chardevs, metadata: {}, boot };
  const unknown = decidePrepare({ ...input, state: emptyDomainState('u') });
  t.deepEqual(
    unknown.seal.map((s) => [s.device, s.unknownBootAt0]),
    [
      ['serial0', true],
      ['serial1', false],
    ],
    'a virtlogd log is rotated: its byte 0 may be anywhere in a boot',
  );
  const arrived = decidePrepare({ ...input, chardevs, state: emptyDomainState('u'), continuing: true });
  t.false(arrived.seal[0]?.unknownBootAt0, 'an arrival continues a boot, even on a host new to it');
  const continued = withHost(emptyDomainState('u'), 'h', {
    generation: 0,
    devices: { serial0: arrived.devices.serial0 as { path: string; kind: 'file'; truncating: boolean } },
  });
  const restart = decidePrepare({ ...input, state: continued });
  t.deepEqual(
    restart.seal.map((s) => [s.device, s.unknownBootAt0, s.boot]),
    [
      ['serial0', false, undefined],
      ['serial1', false, undefined],
    ],
  );
  const known = decidePrepare({
    ...input,
    state: withHost(emptyDomainState('u'), 'h', { generation: 0, devices: unknown.devices }),
  });
  t.deepEqual(
    known.seal.map((s) => [s.device, s.unknownBootAt0, s.boot?.id]),
    [
      ['serial0', false, 'b1'],
      ['serial1', false, 'b1'],
    ],
  );
});

test('stop: libvirt reason when given, else inferred from a newer generation elsewhere', (t) => {
  let state = withHost(emptyDomainState('u'), 'a', { generation: 1, devices: {} });
  t.deepEqual(decideStop('destroyed', state, 'a'), { reason: 'destroyed', inferred: false });
  t.is(decideStop('from snapshot', state, 'a').reason, 'from-snapshot');
  t.deepEqual(decideStop('-', state, 'a'), { reason: 'stop', inferred: true });
  state = withHost(state, 'b', { generation: 2, devices: {} });
  t.deepEqual(decideStop('-', state, 'a'), { reason: 'migrated', inferred: true });
  // An unknown word in the 4th argument is not a reason libvirt gives: inferred instead.
  t.deepEqual(decideStop('bogus', state, 'a'), { reason: 'migrated', inferred: true });
});
