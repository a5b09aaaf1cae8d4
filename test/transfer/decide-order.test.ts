// The order of this host's seals made while an arrival's fetch was owed (pure decision).
import test from 'ava';
import {
  adoptOrders,
  decideOrder,
  type HeldSegment,
  type OrderInput,
} from '../../src/transfer/decide-order.js';

const seg = (
  generation: number,
  seq: number,
  host: string,
  extra: Partial<HeldSegment> = {},
): HeldSegment => ({
  key: `${String(generation).padStart(6, '0')}-${String(seq).padStart(8, '0')}-${host}`,
  host,
  generation,
  seq,
  ...extra,
});

const base = (over: Partial<OrderInput> = {}): OrderInput => ({
  host: 'b',
  sealsFrom: 3,
  above: 3,
  held: [
    seg(1, 2, 'b'), // sealed before the arrival (an earlier stay here)
    seg(1, 3, 'b'), // since the arrival
    seg(1, 4, 'b'),
    seg(2, 7, 'a', { importedFrom: { host: 'a', key: '000002-00000007-a' } }),
  ],
  listed: [{ host: 'a', key: '000002-00000007-a' }],
  ...over,
});

test('own seals since the arrival sort above everything the listing holds; earlier ones stay', (t) => {
  const p = decideOrder(base());
  t.deepEqual(p.set, [
    { key: '000001-00000003-b', orderGeneration: 3 },
    { key: '000001-00000004-b', orderGeneration: 3 },
  ]);
  t.is(p.sealsFrom, 3);
  t.is(p.moved, undefined);
});

test('no mark recorded (a live migration, an older record): nothing is changed', (t) => {
  t.deepEqual(decideOrder(base({ sealsFrom: undefined })), { sealsFrom: undefined, set: [] });
});

test('seals already at or above the listing (raised before, or sealed after the raise) are left alone', (t) => {
  const p = decideOrder(
    base({ held: [seg(1, 3, 'b', { orderGeneration: 3 }), seg(3, 5, 'b'), seg(4, 6, 'b')] }),
  );
  t.deepEqual(p.set, []);
  // A later listing with a higher generation places them again, above it.
  const q = decideOrder(base({ above: 5, held: [seg(1, 3, 'b', { orderGeneration: 3 }), seg(3, 5, 'b')] }));
  t.deepEqual(
    q.set.map((s) => [s.key, s.orderGeneration]),
    [
      ['000001-00000003-b', 5],
      ['000003-00000005-b', 5],
    ],
  );
});

test("imported segments and other hosts' segments are never placed", (t) => {
  const p = decideOrder(
    base({
      held: [
        seg(0, 9, 'c'),
        seg(0, 9, 'b', { importedFrom: { host: 'b', key: '000000-00000001-b' } }),
        seg(0, 3, 'b'),
      ],
    }),
  );
  t.deepEqual(p.set, [{ key: '000000-00000003-b', orderGeneration: 3 }]);
});

test('a holder that already has output sealed here since the arrival moves the mark past it', (t) => {
  // The guest ran on the holder after seqs 3 and 4 here: its generations say nothing of them.
  const p = decideOrder(
    base({
      held: [seg(1, 3, 'b'), seg(1, 4, 'b'), seg(1, 8, 'b')],
      listed: [
        { host: 'a', key: '000002-00000007-a' },
        { host: 'b', key: '000001-00000003-b', importedFrom: { host: 'b', key: '000001-00000003-b' } },
        { host: 'b', key: '000001-00000005-b', importedFrom: { host: 'b', key: '000001-00000004-b' } },
      ],
    }),
  );
  t.is(p.sealsFrom, 5);
  t.regex(p.moved ?? '', /000001-00000004-b.*ran there after/);
  t.deepEqual(p.set, [{ key: '000001-00000008-b', orderGeneration: 3 }]);
});

test('a copy held here takes the later order its origin gave it, never a lower one', (t) => {
  const held = [
    { id: 'b/3', key: '000001-00000003-b', generation: 1 },
    { id: 'b/4', key: '000001-00000004-b', generation: 1, orderGeneration: 5 },
    { id: 'a/7', key: '000002-00000007-a', generation: 2 },
  ];
  t.deepEqual(
    adoptOrders(
      [
        { id: 'b/3', orderGeneration: 3 },
        { id: 'b/4', orderGeneration: 3 }, // lower than here: kept
        { id: 'a/7' },
        { id: 'x/1', orderGeneration: 9 }, // not held here
      ],
      held,
    ),
    [{ key: '000001-00000003-b', orderGeneration: 3 }],
  );
});
