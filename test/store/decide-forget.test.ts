import test from 'ava';
import { historyOf, planForget, type StoredHistory } from '../../src/store/decide-forget.js';
import { emptyDomainState } from '../../src/store/domain-state.js';

const A = 'aaaaaaaa-0000-0000-0000-000000000001';
const B = 'bbbbbbbb-0000-0000-0000-000000000002';
const now = new Date('2026-03-01T00:00:00Z');
const daysAgo = (d: number) => now.getTime() - d * 86_400_000;
const h = (uuid: string, ago: number, over: Partial<StoredHistory> = {}): StoredHistory => ({
  uuid,
  lastTime: daysAgo(ago),
  lastHost: 'h1',
  unsealedBytes: 0,
  ...over,
});

test('an old domain libvirt does not list is forgotten; a listed one of the same age is kept', (t) => {
  const plan = planForget({
    domains: [h(A, 40), h(B, 40)],
    defined: { uuids: [B.toUpperCase()] },
    graceDays: 30,
    now,
    host: 'h1',
  });
  t.deepEqual(plan.forget, [{ uuid: A, lastTime: daysAgo(40) }]);
  t.deepEqual(plan.keep, [{ uuid: B, why: 'libvirt lists it on this host' }]);
});

test('libvirt not reachable, or a grace of 0: nothing is forgotten', (t) => {
  const base = { domains: [h(A, 400)], now, host: 'h1' };
  const unknown = planForget({ ...base, defined: { unknown: 'virsh: failed to connect' }, graceDays: 30 });
  t.deepEqual(unknown.forget, []);
  t.regex(unknown.skipped ?? '', /could not be asked.*failed to connect/);
  const never = planForget({ ...base, defined: { uuids: [] }, graceDays: 0 });
  t.deepEqual(never.forget, []);
  t.regex(never.skipped ?? '', /keep for ever/);
});

test('kept: newer than the grace (fractional days), unsealed live bytes, another host last, age unknown', (t) => {
  const plan = planForget({
    domains: [
      h(A, 0.4),
      h(B, 40, { unsealedBytes: 10 }),
      h('cccccccc-0000-0000-0000-000000000003', 40, { lastHost: 'h2' }),
      h('dddddddd-0000-0000-0000-000000000004', 0, { lastTime: undefined }),
      h('eeeeeeee-0000-0000-0000-000000000005', 0.6),
    ],
    defined: { uuids: [] },
    graceDays: 0.5,
    now,
    host: 'h1',
  });
  t.deepEqual(
    plan.forget.map((f) => f.uuid),
    ['eeeeeeee-0000-0000-0000-000000000005'],
  );
  t.deepEqual(
    plan.keep.map((k) => k.why),
    [
      'its history is newer than undefined_retention_days',
      '10 bytes of its live files are not sealed yet',
      'its last event was on host h2, whose retention decides',
      'the age of its history is unknown',
    ],
  );
});

test('historyOf: the newest event (and its host) and the newest segment time', (t) => {
  const s = emptyDomainState(A);
  s.hosts.h1 = { generation: 1, devices: {}, lastEvent: { kind: 'release', at: '2026-01-10T00:00:00Z' } };
  s.hosts.h2 = { generation: 2, devices: {}, lastEvent: { kind: 'prepare', at: '2026-01-05T00:00:00Z' } };
  t.deepEqual(historyOf(s, ['2026-01-12T00:00:00Z', 'garbage']), {
    uuid: A,
    lastTime: Date.parse('2026-01-12T00:00:00Z'),
    lastHost: 'h1',
    unsealedBytes: 0,
  });
  t.deepEqual(historyOf(emptyDomainState(A), []), {
    uuid: A,
    lastTime: undefined,
    lastHost: undefined,
    unsealedBytes: 0,
  });
});
