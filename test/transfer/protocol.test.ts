import test from 'ava';
import {
  ProtocolError,
  MAX_LISTED_MARKERS,
  parseListing,
  parseRequest,
  parseTimesOffer,
  requestWords,
  splitRequestLine,
} from '../../src/transfer/protocol.js';
import { baselineOf, liveSealed, overallStatus, planFetch, sealedSince } from '../../src/transfer/fetch.js';

const U = '0f8fad5b-d9cb-469f-a165-70867728950e';
const KEY = '000001-00000003-lab-a';

test('valid requests parse and round-trip to the words a transport sends', (t) => {
  const cases: string[][] = [
    ['list', U],
    ['get', U, KEY, '0'],
    ['get', U, KEY, '12345'],
    ['live', U, 'lab-a', 'serial0', '77'],
    ['live', U, 'host.example.org', 'console1', '0'],
    ['times', U, KEY],
  ];
  for (const words of cases) t.deepEqual(requestWords(parseRequest(words)), words);
  t.deepEqual(splitRequestLine(`get ${U} ${KEY} 5`), ['get', U, KEY, '5']);
});

test('unknown verbs, missing and extra arguments are refused', (t) => {
  for (const words of [
    [],
    ['put', U],
    ['LIST', U],
    ['list'],
    ['list', U, 'extra'],
    ['get', U, KEY],
    ['get', U, KEY, '0', '--all'],
    ['live', U, 'lab-a', 'serial0'],
    ['times'],
    ['times', U],
    ['times', U, KEY, '0'],
    ['times', U, '../etc'],
    ['times', U.toUpperCase(), KEY],
    ['rm', '-rf', '/'],
    ['--help'],
  ]) {
    t.throws(() => parseRequest(words), { instanceOf: ProtocolError }, JSON.stringify(words));
  }
});

test('path tricks and other spellings are refused before any lookup', (t) => {
  const bad: string[][] = [
    ['list', '../etc'],
    ['list', U.toUpperCase()],
    ['list', U.replace(/-/g, '')],
    ['list', `${U}/..`],
    ['get', U, '../../../etc/shadow', '0'],
    ['get', U, `${KEY}/../x`, '0'],
    ['get', U, '000001-00000003-..', '0'],
    ['get', U, '000001-00000003-lab-a.seg', '1'].map((w, i) => (i === 2 ? '1-3-lab-a' : w)),
    ['get', U, KEY, '-1'],
    ['get', U, KEY, '01'],
    ['get', U, KEY, '1e9'],
    ['get', U, KEY, '99999999999999999'],
    ['live', U, '..', 'serial0', '0'],
    ['live', U, 'lab-a', '../../shadow', '0'],
    ['live', U, 'lab-a', 'serial0.log', '0'],
    ['live', U, 'lab-a', 'channel0', '0'],
    ['live', U, '/etc', 'serial0', '0'],
    ['live', U, '.hidden', 'serial0', '0'],
  ];
  for (const words of bad)
    t.throws(() => parseRequest(words), { instanceOf: ProtocolError }, JSON.stringify(words));
});

test('SSH_ORIGINAL_COMMAND: shell syntax, quotes, tabs, newlines and long lines are refused', (t) => {
  for (const line of [
    `list ${U}; cat /etc/shadow`,
    `list $(id)`,
    `list '${U}'`,
    `list\t${U}`,
    `list ${U}\nget`,
    `list ${U} | nc`,
    `list ${U} > /tmp/x`,
    `list ${'a'.repeat(600)}`,
    `list ${U}\0`,
  ]) {
    t.throws(() => splitRequestLine(line), { instanceOf: ProtocolError }, JSON.stringify(line));
  }
});

function listing(
  overrides: Record<string, unknown> = {},
  segs: unknown[] = [],
  live: unknown[] = [],
): string {
  return JSON.stringify({
    protocol: 1,
    maxGeneration: 0,
    uuid: U,
    exporter: 'lab-a',
    at: '',
    segments: segs,
    live,
    ...overrides,
  });
}

const seg = (key: string, extra: Record<string, unknown> = {}) => {
  const [g, s, ...h] = key.split('-');
  return {
    key,
    host: h.join('-'),
    generation: Number(g),
    seq: Number(s),
    bytes: 10,
    sha256: 'a'.repeat(64),
    reason: 'stop',
    sidecar: { key, sha256: 'a'.repeat(64), plainBytes: 10 },
    ...extra,
  };
};

test('listings from a peer are validated field by field', (t) => {
  const ok = parseListing(
    listing(
      {},
      [seg(KEY)],
      [
        {
          host: 'lab-a',
          device: 'serial0',
          file: 'serial0.log',
          bytes: 5,
          sealed: 5,
          path: '/x/serial0.log',
          ino: 7,
          head: 'b'.repeat(64),
        },
      ],
    ),
    U,
  );
  t.is(ok.segments.length, 1);
  t.is(ok.live[0]?.sealed, 5);
  t.is(ok.live[0]?.ino, 7);
  t.deepEqual(ok.markers, [], 'a peer that predates marker ids in listings');
  t.deepEqual(parseListing(listing({ markers: ['b0a7c0ffee000001', 'x.y-z_1'] }), U).markers, [
    'b0a7c0ffee000001',
    'x.y-z_1',
  ]);
  const many = Array.from({ length: MAX_LISTED_MARKERS + 5 }, (_, i) => `m${i}`);
  t.deepEqual(parseListing(listing({ markers: many }), U).markers, many.slice(5), 'the newest kept');
  const bad: Array<[string, string]> = [
    ['markers not an array', listing({ markers: 'b0a7' })],
    ['marker not a boot id', listing({ markers: ['ok', 'a b'] })],
    ['marker too long', listing({ markers: ['a'.repeat(65)] })],
    ['marker not a string', listing({ markers: [7] })],
    ['not json', '{'],
    ['other domain', listing({ uuid: '11111111-2222-3333-4444-555555555555' })],
    ['other protocol', listing({ protocol: 2 })],
    ['bad exporter', listing({ exporter: '../x' })],
    ['bad key', listing({}, [seg(KEY, { key: '../../x' })])],
    ['key/host mismatch', listing({}, [seg(KEY, { host: 'lab-b' })])],
    ['key/generation mismatch', listing({}, [seg(KEY, { generation: 2 })])],
    ['duplicate key', listing({}, [seg(KEY), seg(KEY)])],
    ['bad sha', listing({}, [seg(KEY, { sha256: 'xyz' })])],
    ['negative bytes', listing({}, [seg(KEY, { bytes: -1 })])],
    ['sidecar missing', listing({}, [seg(KEY, { sidecar: undefined })])],
    [
      'bad live file',
      listing(
        {},
        [],
        [
          {
            host: 'lab-a',
            device: 'serial0',
            file: '../x',
            bytes: 1,
            sealed: 0,
            path: '/x',
            ino: 1,
            head: 'b'.repeat(64),
          },
        ],
      ),
    ],
    [
      'sealed past end',
      listing(
        {},
        [],
        [
          {
            host: 'lab-a',
            device: 'serial0',
            file: 'serial0.log',
            bytes: 1,
            sealed: 2,
            path: '/x',
            ino: 1,
            head: 'b'.repeat(64),
          },
        ],
      ),
    ],
  ];
  for (const [what, text] of bad) t.throws(() => parseListing(text, U), { instanceOf: ProtocolError }, what);
});

test('planFetch: only what this store lacks (by origin + content), in history order', (t) => {
  const l = parseListing(
    listing({}, [
      seg('000002-00000001-lab-a'),
      seg('000000-00000001-lab-a'),
      seg('000001-00000004-lab-b', {
        sidecar: { importedFrom: { host: 'lab-b', key: '000001-00000004-lab-b' } },
      }),
    ]),
    U,
  );
  const have = new Set([['lab-b', '000001-00000004-lab-b', 'a'.repeat(64)].join('\u0000')]);
  t.deepEqual(
    planFetch(l, have).map((s) => s.key),
    ['000000-00000001-lab-a', '000002-00000001-lab-a'],
  );
});

const liveFile = (
  bytes: number,
  sealed: number,
  path = '/var/log/libvirt/consolelog/x/lab-a/serial0.log',
) => ({
  host: 'lab-a',
  device: 'serial0',
  file: 'serial0.log',
  bytes,
  sealed,
  path,
  ino: 42,
  head: 'c'.repeat(64),
});

test('completion: a new seal beyond the baseline, or every live file of the source sealed to its end', (t) => {
  const before = parseListing(listing({}, [seg('000000-00000001-lab-a')], [liveFile(90, 40)]), U);
  const base = baselineOf(before, 'lab-a');
  t.deepEqual(base, ['000000-00000001-lab-a']);
  t.false(sealedSince(before, 'lab-a', base));
  t.false(liveSealed(before, 'lab-a', false));
  const after = parseListing(
    listing({}, [seg('000000-00000001-lab-a'), seg('000000-00000002-lab-a')], [liveFile(95, 95)]),
    U,
  );
  t.true(sealedSince(after, 'lab-a', base));
  t.true(liveSealed(after, 'lab-a', true));
  // A segment of another host appearing is not the source's seal.
  const other = parseListing(listing({}, [seg('000000-00000001-lab-a'), seg('000001-00000001-lab-b')]), U);
  t.false(sealedSince(other, 'lab-a', base));
  // No live byte at all: proof for a later sync, not for the job racing the switchover.
  const empty = parseListing(listing({}, [], [liveFile(0, 0)]), U);
  t.true(liveSealed(empty, 'lab-a', false));
  t.false(liveSealed(empty, 'lab-a', true));
  // A live file readable here (shared storage) owes nothing.
  const shared = parseListing(
    listing({}, [], [liveFile(90, 10, '/var/lib/nova/instances/x/console.log')]),
    U,
  );
  t.false(liveSealed(shared, 'lab-a', false));
  t.true(liveSealed(shared, 'lab-a', false, (l) => l.path.startsWith('/var/lib/nova/')));
});

test('overall status: the hint host decides; unreachable extra peers do not hold a fetch open', (t) => {
  const m = (o: Record<string, 'complete' | 'waiting' | 'failed' | 'unreachable'>) =>
    new Map(Object.entries(o));
  t.is(overallStatus(['a', 'c'], m({ a: 'complete', c: 'unreachable' }), 'a'), 'complete');
  t.is(overallStatus(['a', 'c'], m({ a: 'complete', c: 'waiting' }), 'a'), 'waiting-for-seal');
  t.is(overallStatus(['a', 'c'], m({ a: 'complete', c: 'failed' }), 'a'), 'failed');
  t.is(overallStatus(['a', 'c'], m({ a: 'unreachable', c: 'complete' }), 'a'), 'failed');
  t.is(overallStatus(['a', 'c'], m({ a: 'waiting', c: 'complete' }), 'a'), 'waiting-for-seal');
  t.is(overallStatus(['a', 'c'], m({ a: 'complete', c: 'unreachable' }), undefined), 'failed');
  t.is(overallStatus(['a', 'c'], m({ a: 'complete', c: 'complete' }), undefined), 'complete');
});

test('a times answer: a bad frame is refused whole, its points are left to the per-point check', (t) => {
  const sha = 'a'.repeat(64);
  const ok = { protocol: 1, uuid: U, key: KEY, sha256: sha, points: [[4, 5], 'x'] };
  t.deepEqual(parseTimesOffer(JSON.stringify(ok), U, KEY), ok);
  const bad: unknown[] = [
    'not json',
    [],
    { ...ok, protocol: 2 },
    { ...ok, uuid: '1f8fad5b-d9cb-469f-a165-70867728950e' },
    { ...ok, key: '000001-00000004-lab-a' },
    { ...ok, key: '../../etc/passwd' },
    { ...ok, sha256: 'A'.repeat(64) },
    { ...ok, sha256: undefined },
  ];
  for (const b of bad)
    t.throws(() => parseTimesOffer(typeof b === 'string' ? b : JSON.stringify(b), U, KEY), {
      instanceOf: ProtocolError,
    });
});
