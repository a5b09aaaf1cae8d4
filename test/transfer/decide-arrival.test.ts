import test from 'ava';
import { emptyDomainState, withHost, type DomainState } from '../../src/store/domain-state.js';
import { decideArrival, missingParts, type ArrivalInput } from '../../src/transfer/decide-arrival.js';
import type { FetchRecord } from '../../src/transfer/state.js';

const U = '0f8fad5b-d9cb-469f-a165-70867728950e';

function seenBy(host: string, generation = 0, lastEvent?: { kind: string; at: string }): DomainState {
  return withHost(emptyDomainState(U), host, {
    generation,
    devices: {},
    ...(lastEvent ? { lastEvent } : {}),
  });
}

const base = (over: Partial<ArrivalInput> = {}): ArrivalInput => ({
  host: 'b',
  peers: ['a', 'b', 'c'],
  metadata: {},
  state: emptyDomainState(U),
  record: undefined,
  continuing: false,
  ...over,
});

test('a domain this host never saw: every peer but this host is asked', (t) => {
  const p = decideArrival(base());
  t.true(p.fetch);
  if (p.fetch) {
    t.deepEqual(p.candidates, ['a', 'c']);
    t.is(p.previousHost, undefined);
    t.regex(p.why, /never saw/);
  }
});

test('an incoming live migration fetches from migrate begin, not here', (t) => {
  t.false(decideArrival(base({ continuing: true })).fetch);
});

test('a plain restart on the host the definition names: nothing asked', (t) => {
  const p = decideArrival(base({ state: seenBy('b', 2), metadata: { host: 'b', generation: 2 } }));
  t.false(p.fetch);
});

test('a known domain whose definition lost our metadata (regenerated): the peers are asked', (t) => {
  const p = decideArrival(base({ state: seenBy('b') }));
  t.true(p.fetch);
  if (p.fetch) t.regex(p.why, /regenerated/);
});

test('a hint naming another host comes first, with its generation', (t) => {
  const p = decideArrival(base({ metadata: { host: 'c', generation: 3 } }));
  t.true(p.fetch);
  if (p.fetch) {
    t.deepEqual(p.candidates, ['c', 'a']);
    t.is(p.previousHost, 'c');
    t.is(p.previousGeneration, 3);
  }
});

test('a stale hint older than what this host already has: nothing asked', (t) => {
  const p = decideArrival(base({ state: seenBy('b', 4), metadata: { host: 'a', generation: 3 } }));
  t.false(p.fetch);
  const q = decideArrival(base({ state: seenBy('b', 4), metadata: { host: 'a', generation: 4 } }));
  t.true(q.fetch);
});

test('a shared store (another host in domain.json): nothing to copy', (t) => {
  const p = decideArrival(base({ state: seenBy('a') }));
  t.false(p.fetch);
  t.regex(p.why, /shared with a/);
});

test('no peers and no hint: nothing to ask', (t) => {
  const p = decideArrival(base({ peers: [] }));
  t.false(p.fetch);
  t.regex(p.why, /no peers/);
  t.false(decideArrival(base({ peers: ['b'] })).fetch);
});

test('hosts an unfinished fetch still owes stay candidates of the new arrival', (t) => {
  const record: FetchRecord = {
    uuid: U,
    candidates: ['old'],
    since: '2026-01-01T00:00:00.000Z',
    status: 'failed',
    attempts: 3,
    segmentsFetched: 0,
    bytesFetched: 0,
    updated: '2026-01-01T00:00:00.000Z',
  };
  const p = decideArrival(base({ record }));
  t.true(p.fetch);
  if (p.fetch) t.deepEqual(p.candidates, ['a', 'c', 'old']);
  const done = decideArrival(base({ record: { ...record, status: 'complete' } }));
  if (done.fetch) t.deepEqual(done.candidates, ['a', 'c']);
});

test("an arrival marks this store's next seal; an owed arrival's earlier mark is kept", (t) => {
  const p = decideArrival(base({ state: seenBy('b'), nextSeq: 7 }));
  t.true(p.fetch && p.sealsFrom === 7, JSON.stringify(p));
  const record: FetchRecord = {
    uuid: U,
    candidates: ['a'],
    since: '2026-01-01T00:00:00.000Z',
    status: 'failed',
    attempts: 1,
    segmentsFetched: 0,
    bytesFetched: 0,
    updated: '2026-01-01T00:00:00.000Z',
    sealsFrom: 4,
  };
  // Started again here (Nova's hard reboot regenerates the XML) while the fetch is still owed:
  // seals 4.. came after that arrival too.
  const again = decideArrival(base({ state: seenBy('b'), nextSeq: 9, record }));
  t.true(again.fetch && again.sealsFrom === 4, JSON.stringify(again));
  const done = decideArrival(
    base({ state: seenBy('b'), nextSeq: 9, record: { ...record, status: 'complete' } }),
  );
  t.true(done.fetch && done.sealsFrom === 9, JSON.stringify(done));
  // The store could not be read at the start: no mark, the seals keep their keys' order.
  const none = decideArrival(base({ state: seenBy('b') }));
  t.true(none.fetch && none.sealsFrom === undefined, JSON.stringify(none));
});

test('missing: a host that started the guest and never stopped it before another started it', (t) => {
  let s = seenBy('a', 0, { kind: 'prepare', at: '2026-01-01T10:00:00.000Z' });
  s = withHost(s, 'b', {
    generation: 0,
    devices: {},
    lastEvent: { kind: 'prepare', at: '2026-01-01T11:00:00.000Z' },
  });
  const m = missingParts(s);
  t.is(m.length, 1);
  t.is(m[0]?.host, 'a');
  t.is(m[0]?.since, '2026-01-01T10:00:00.000Z');
  t.regex(m[0]?.why ?? '', /never stopped/);
});

test('missing: nothing when the host stopped (release) or is the last to start', (t) => {
  let s = seenBy('a', 0, { kind: 'release', at: '2026-01-01T10:30:00.000Z' });
  s = withHost(s, 'b', {
    generation: 0,
    devices: {},
    lastEvent: { kind: 'prepare', at: '2026-01-01T11:00:00.000Z' },
  });
  t.deepEqual(missingParts(s), []);
  t.deepEqual(missingParts(seenBy('a', 0, { kind: 'prepare', at: '2026-01-01T10:00:00.000Z' })), []);
});
