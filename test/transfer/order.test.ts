// Issue 16's open case between real stores: a guest arrives on B while A (which holds later
// generations) is down; what B seals meanwhile must sort after A's history once `sync` brings it,
// on B and on any host that fetches from B later.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listSegments } from '../../src/store/segments.js';
import { readFetchRecord, writeFetchRecord } from '../../src/transfer/state.js';
import { CLI_JS, cli, lines, makeWorld, seal, write, type TestHost } from './helpers.js';

const U = '7d1e0c2b-3a4f-4b5c-8d6e-9f0a1b2c3d4e';

test.before(() => {
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} missing: npm run build first`);
});

/** The runs of line prefixes `show` prints, in order (each run once). The built CLI, as an operator runs it. */
function shownRuns(h: TestHost): string[] {
  const out = execFileSync(process.execPath, [CLI_JS, '--config', h.configFile, 'show', U], {
    encoding: 'utf8',
  });
  const runs: string[] = [];
  for (const l of out.split('\n')) {
    const m = /^(\S+) seq=/.exec(l);
    if (m && runs.at(-1) !== m[1]) runs.push(m[1] as string);
  }
  return runs;
}

test('seals made while the arrival fetch was owed sort after the history it brings, here and on the next host', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const [a, b, c] = [w.host('lab-a'), w.host('lab-b'), w.host('lab-c')];
  // A boots it (generation 0), it hops live to B (1) and back to A (2): B's stay is sealed on B.
  await write(a, U, lines('a-first', 0, 40));
  await seal(a, U, 'migrated');
  await write(b, U, lines('b-stay', 0, 40), { generation: 1 });
  await seal(b, U, 'migrated');
  await write(a, U, lines('a-back', 0, 40), { generation: 2 });
  await seal(a, U, 'destroyed');
  // Cold migration to B while A is down: B's start is an arrival, its mark is B's next seal.
  const nextSeq = (
    JSON.parse(readFileSync(join(b.config.logRoot, U, 'sealed.json'), 'utf8')) as { nextSeq: number }
  ).nextSeq;
  const now = new Date().toISOString();
  writeFetchRecord(b.config.stateDir, {
    uuid: U,
    candidates: ['lab-a'],
    since: now,
    status: 'failed',
    attempts: 1,
    segmentsFetched: 0,
    bytesFetched: 0,
    updated: now,
    arrival: 'definition without our metadata',
    sealsFrom: nextSeq,
  });
  await write(b, U, lines('b-cold1', 0, 40), { generation: 1 });
  await seal(b, U, 'destroyed');
  await write(b, U, lines('b-cold2', 0, 40), { generation: 1 });
  await seal(b, U, 'destroyed');
  // C copies B's history before A is back: it gets B's seals without their later order.
  const early = await cli(['--config', c.configFile, 'sync', U, '--from', 'lab-b']);
  t.is(early.code, 0, early.stdout.toString() + early.stderr);
  // A is back: sync completes the fetch.
  const r = await cli(['--config', b.configFile, 'sync', U]);
  t.is(r.code, 0, r.stdout.toString() + r.stderr);
  t.is(readFetchRecord(b.config.stateDir, U)?.status, 'complete');
  const order = ['a-first', 'b-stay', 'a-back', 'b-cold1', 'b-cold2'];
  t.deepEqual(shownRuns(b), order);
  // Keys and content unchanged; the two seals since the arrival sort at generation 3.
  const own = listSegments(b.config, U).filter((s) => !s.importedFrom);
  t.deepEqual(
    own.map((s) => [s.key, s.orderGeneration]),
    [
      ['000001-00000001-lab-b', undefined],
      ['000001-00000002-lab-b', 3],
      ['000001-00000003-lab-b', 3],
    ],
  );
  // Readers take it from the archive index too.
  const index = readFileSync(join(b.config.logRoot, U, 'archive', 'index.jsonl'), 'utf8');
  t.regex(index, /"key":"000001-00000003-lab-b".*"orderGeneration":3/);
  // C asks B again: it takes the order B gave the seals it holds, and A's part arrives with it.
  const fromB = await cli(['--config', c.configFile, 'sync', U, '--from', 'lab-b']);
  t.is(fromB.code, 0, fromB.stdout.toString() + fromB.stderr);
  t.deepEqual(shownRuns(c), order);
  // A second sync changes nothing.
  const again = await cli(['--config', b.configFile, 'sync', U, '--from', 'lab-a']);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(shownRuns(b), order);
});
