// Reader-chain files stay sealed when sealed.json is lost: the fault matrix's truncating file serial
// found the chain file archived a second time (every earlier boot shown twice) after sealed.json was
// rebuilt from sidecars.
import test from 'ava';
import { parseChainState, withChainFilesSealed, type ChainRecord } from '../../src/store/chain-files.js';
import { emptySealState, findTracked, unsealedStart } from '../../src/store/watermarks.js';

const record: ChainRecord = {
  host: 'lab-a',
  path: '/var/lib/nova/instances/x/console.log.0',
  dev: 2049,
  ino: 1234,
  birthtimeMs: 1700000000000,
  size: 5000,
  at: '2026-12-04T00:00:00.000Z',
  device: 'serial0',
  head: 'ab'.repeat(32),
  headLen: 4096,
};

test('a recorded chain file counts as sealed to its end in a rebuilt seal state', (t) => {
  const state = withChainFilesSealed(emptySealState(), [record]);
  const tracked = findTracked(state, record, 'lab-a');
  t.truthy(tracked);
  t.is(tracked?.offset, 5000);
  const id = { dev: 2049, ino: 1234, birthtimeMs: 1700000000000, size: 5000, ctimeMs: 1 };
  t.is(unsealedStart(tracked, id, () => 'ab'.repeat(32)).start, 5000, 'nothing left to seal');
});

test('a tracked file is left as the seal state has it; records without a watermark are skipped', (t) => {
  const once = withChainFilesSealed(emptySealState(), [record]);
  t.deepEqual(withChainFilesSealed(once, [{ ...record, size: 1 }]), once);
  const { device: _d, ...old } = record;
  t.deepEqual(withChainFilesSealed(emptySealState(), [old]), emptySealState());
});

// The lab's fault matrix again (1 run in 6): sealed.json rebuilt from sidecars replayed the watermark
// of a Nova console.log deleted boots ago, whose inode the chain file had been given; that entry hid
// the chain record, and its other birth time made the seal take the chain file as new from byte 0.
test('a stale entry for an inode the chain file reuses (another birth time) is replaced', (t) => {
  const stale = withChainFilesSealed(emptySealState(), [
    { ...record, path: '/var/lib/nova/instances/x/console.log', birthtimeMs: 1600000000000, size: 900 },
  ]);
  const state = withChainFilesSealed(stale, [record]);
  const tracked = findTracked(state, record, 'lab-a');
  t.is(state.files.length, 1);
  t.is(tracked?.offset, 5000);
  t.is(tracked?.birthtimeMs, record.birthtimeMs);
  const id = { dev: 2049, ino: 1234, birthtimeMs: 1700000000000, size: 5000, ctimeMs: 1 };
  t.is(unsealedStart(tracked, id, () => 'ab'.repeat(32)).start, 5000, 'nothing left to seal');
});

// The other way round (seen in the lab with the rule above taking any other birth time): the chain
// file was deleted at a start, the new console.log got its inode, chain.json still names it. The
// log's entry must stay, or its sealed bytes would be sealed again from 0.
test("a later-born file on a recorded chain file's inode keeps its own entry", (t) => {
  const log = withChainFilesSealed(emptySealState(), [
    { ...record, path: '/var/lib/nova/instances/x/console.log', birthtimeMs: 1800000000000, size: 900 },
  ]);
  const state = withChainFilesSealed(log, [record]);
  t.deepEqual(state, log);
  const id = { dev: 2049, ino: 1234, birthtimeMs: 1800000000000, size: 900, ctimeMs: 1 };
  t.is(unsealedStart(findTracked(state, record, 'lab-a'), id, () => 'ab'.repeat(32)).start, 900);
});

test('chain.json round-trips the fields a seal needs', (t) => {
  const [r] = parseChainState(JSON.stringify({ version: 1, files: [record] }));
  t.deepEqual(r, record);
});
