// Arrival fetches between real stores (the built CLI as each host's export command): peers that
// never held the guest answer "not mine" in one round and are not asked again in that arrival.
import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listSegments } from '../../src/store/segments.js';
import { runFetch } from '../../src/transfer/fetch.js';
import { isNotMine, mapBounded, probePeers } from '../../src/transfer/probe.js';
import { describeFetch, readFetchRecord, writeFetchRecord } from '../../src/transfer/state.js';
import { CLI_JS, lines, makeWorld, seal, write } from './helpers.js';

const U = '5c4d2a10-6b1e-4d3f-9a8b-0c1d2e3f4a5b';

test.before(() => {
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} missing: npm run build first`);
});

/** A peer whose export fails: its log_root is a regular file. */
function breakPeer(dir: string, name: string): void {
  writeFileSync(join(dir, `${name}.notadir`), 'x');
  writeFileSync(
    join(dir, `${name}.conf`),
    `host_name = "${name}"\nlog_root = "${join(dir, `${name}.notadir`)}"\n`,
  );
}

test('mapBounded keeps the order and never runs more than the limit at once', async (t) => {
  let running = 0;
  let most = 0;
  const out = await mapBounded([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setImmediate(r));
    running--;
    return n * 2;
  });
  t.deepEqual(out, [2, 4, 6, 8, 10, 12, 14]);
  t.is(most, 3);
});

test('one round: the holder is found, the others answer not mine, an unknown peer fails', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  for (const n of ['e1', 'e2', 'e3']) w.host(n);
  await write(a, U, lines('boot1', 0, 100));
  await seal(a, U, 'stop');
  breakPeer(w.dir, 'nohost');
  const r = await probePeers(b.config, U, ['e1', 'lab-a', 'e2', 'nohost', 'e3']);
  t.deepEqual([...r.listings.keys()], ['lab-a']);
  t.false(isNotMine(r.listings.get('lab-a')!));
  t.deepEqual(r.notMine, ['e1', 'e2', 'e3']);
  t.deepEqual([...r.failed.keys()], ['nohost']);
});

test('an arrival fetch asks every peer once; not-mine peers are not asked again in that arrival', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  const empty = ['e1', 'e2', 'e3', 'e4'];
  for (const n of empty) w.host(n);
  await write(a, U, lines('boot1', 0, 300));
  await seal(a, U, 'stop');
  const now = new Date().toISOString();
  writeFetchRecord(b.config.stateDir, {
    uuid: U,
    candidates: ['e1', 'e2', 'lab-a', 'e3', 'e4'],
    since: now,
    status: 'running',
    attempts: 0,
    segmentsFetched: 0,
    bytesFetched: 0,
    updated: now,
    arrival: 'this host never saw the domain',
  });
  const log: string[] = [];
  const rec = await runFetch(b.config, U, { waitForSeal: true, log: (l) => log.push(l) });
  t.is(rec.status, 'complete', JSON.stringify(rec));
  t.is(rec.source, 'lab-a');
  t.deepEqual(rec.notMine, empty);
  t.is(listSegments(b.config, U).length, 1);
  t.true(
    log.some((l) => /asked 5 peer\(s\).*1 hold history, 4 not mine, 0 no answer/.test(l)),
    log.join('\n'),
  );
  // The not-mine peers now fail (bad config): a retry of the same arrival does not ask them.
  for (const n of empty) breakPeer(w.dir, n);
  await write(a, U, lines('boot2', 0, 50));
  await seal(a, U, 'stop');
  writeFetchRecord(b.config.stateDir, { ...readFetchRecord(b.config.stateDir, U)!, status: 'failed' });
  const again = await runFetch(b.config, U, { waitForSeal: false });
  t.is(again.status, 'complete', JSON.stringify(again));
  t.is(again.lastError, undefined);
  t.is(listSegments(b.config, U).length, 2);
});

test('a guest new to every peer: the fetch says nothing to fetch, not complete', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const b = w.host('lab-b');
  for (const n of ['e1', 'e2']) w.host(n);
  const now = new Date().toISOString();
  writeFetchRecord(b.config.stateDir, {
    uuid: U,
    candidates: ['e1', 'e2'],
    since: now,
    status: 'running',
    attempts: 0,
    segmentsFetched: 0,
    bytesFetched: 0,
    updated: now,
  });
  const rec = await runFetch(b.config, U, { waitForSeal: true });
  t.is(rec.status, 'nothing');
  t.deepEqual(rec.notMine, ['e1', 'e2']);
  t.is(rec.lastError, 'no peer holds history of this domain');
  t.regex(describeFetch(rec), /2 peer\(s\) answered not mine/);
});
