// Fetching between two real stores, with the real export command (dist/ CLI) as transport.
import test, { type ExecutionContext } from 'ava';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openSegment } from '../../src/store/segment-content.js';
import { listSegments } from '../../src/store/segments.js';
import { runFetch } from '../../src/transfer/fetch.js';
import { withDomainLock } from '../../src/store/lock.js';
import { ensureDomainDir } from '../../src/store/store.js';
import { partialDir, readFetchRecord, writeFetchRecord, type FetchRecord } from '../../src/transfer/state.js';
import { retryPendingFetch, startHistoryFetch } from '../../src/lifecycle/history-fetch.js';
import { sharedWith } from '../../src/transfer/shared.js';
import { withStore } from '../../src/store/session.js';
import { parseDomainState, withHost, withMarkers } from '../../src/store/domain-state.js';
import { bootMarkerLine, MARKER_PREFIX } from '../../src/store/markers.js';
import { parseDomain, type HookContext } from '../../src/lifecycle/context.js';
import type { RewriteResult } from '../../src/xml/rewrite.js';
import { CLI_JS, cli, lines, makeWorld, seal, write, type TestHost } from './helpers.js';

const U = '0f8fad5b-d9cb-469f-a165-70867728950e';

test.before(() => {
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} missing: npm run build first`);
});

const readDomainState = (h: TestHost, uuid: string) =>
  parseDomainState(uuid, readFileSync(join(h.config.logRoot, uuid, 'domain.json'), 'utf8'));

async function content(h: TestHost, uuid: string): Promise<string> {
  let out = '';
  for (const s of listSegments(h.config, uuid)) {
    for await (const c of openSegment(h.config, uuid, s.key)) out += (c as Buffer).toString('utf8');
  }
  return out;
}

const sync = (h: TestHost, ...args: string[]) => cli(['--config', h.configFile, 'sync', ...args]);

test('sync --from fetches every sealed segment, and a re-run duplicates nothing', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  await write(a, U, lines('boot1', 0, 300));
  await seal(a, U, 'restart');
  await write(a, U, lines('boot2', 0, 200));
  await seal(a, U, 'migrated');
  const r = await sync(b, U, '--from', 'lab-a');
  t.is(r.code, 0, r.stdout.toString() + r.stderr);
  t.regex(r.stdout.toString(), /complete; 2 segments/);
  t.is(await content(b, U), lines('boot1', 0, 300) + lines('boot2', 0, 200));
  t.true(listSegments(b.config, U).every((s) => s.importedFrom?.host === 'lab-a'));
  const again = await sync(b, U);
  t.is(again.code, 0, again.stderr);
  t.is(listSegments(b.config, U).length, 2);
  t.is(await content(b, U), lines('boot1', 0, 300) + lines('boot2', 0, 200));
  // Back on A after a hop to B: A already holds its own segments, B's imports of them are not fetched back.
  await write(b, U, lines('gen1', 0, 50), { generation: 1 });
  await seal(b, U, 'migrated');
  const back = await sync(a, U, '--from', 'lab-b');
  t.is(back.code, 0, back.stderr);
  t.deepEqual(
    listSegments(a.config, U).map((s) => [s.key, s.importedFrom?.host ?? 'own']),
    [
      ['000000-00000001-lab-a', 'own'],
      ['000000-00000002-lab-a', 'own'],
      ['000001-00000003-lab-b', 'lab-b'],
    ],
  );
  t.is(await content(a, U), lines('boot1', 0, 300) + lines('boot2', 0, 200) + lines('gen1', 0, 50));
});

test('a partial download resumes at its offset; a corrupt one is discarded and fetched again', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  const text = lines('boot1', 0, 2000);
  await write(a, U, text);
  await seal(a, U);
  const seg = listSegments(a.config, U)[0]!;
  const dir = partialDir(b.config.stateDir, U);
  mkdirSync(dir, { recursive: true });
  const part = join(dir, `${seg.key}.${seg.sha256.slice(0, 16)}.part`);
  // The first 1000 bytes arrived before the connection broke.
  writeFileSync(part, text.slice(0, 1000));
  const r = await sync(b, U, '--from', 'lab-a');
  t.is(r.code, 0, r.stdout.toString() + r.stderr);
  t.is(await content(b, U), text);
  t.false(existsSync(part));

  const c = w.host('lab-c');
  mkdirSync(partialDir(c.config.stateDir, U), { recursive: true });
  const cpart = join(partialDir(c.config.stateDir, U), `${seg.key}.${seg.sha256.slice(0, 16)}.part`);
  writeFileSync(cpart, 'X'.repeat(1000)); // garbage: resuming after it cannot match the sha256
  const bad = await sync(c, U, '--from', 'lab-a');
  t.is(bad.code, 1);
  t.regex(readFetchRecord(c.config.stateDir, U)?.lastError ?? '', /does not match/);
  t.is(listSegments(c.config, U).length, 0, 'nothing corrupt becomes visible');
  t.false(existsSync(cpart));
  const good = await sync(c, U);
  t.is(good.code, 0, good.stderr);
  t.is(await content(c, U), text);
});

test('an unreachable peer is recorded as failed and retried by the next sync', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  await write(a, U, lines('x', 0, 10));
  await seal(a, U);
  const down = w.host('lab-b', 'transport_command = [ "/nonexistent/transport" ]');
  const r = await sync(down, U, '--from', 'lab-a');
  t.is(r.code, 1);
  const rec = readFetchRecord(down.config.stateDir, U);
  t.is(rec?.status, 'failed');
  t.regex(rec?.lastError ?? '', /cannot run transport/);
  const b = w.host('lab-b'); // the peer is back (same host, working transport)
  const all = await cli(['--config', b.configFile, 'sync', '--all']);
  t.is(all.code, 0, all.stdout.toString() + all.stderr);
  t.is(readFetchRecord(b.config.stateDir, U)?.status, 'complete');
  t.is(await content(b, U), lines('x', 0, 10));
});

test('waiting for the source: unsealed live bytes there keep the fetch open until it seals', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  await write(a, U, lines('early', 0, 10));
  await seal(a, U, 'restart');
  await write(a, U, lines('late', 0, 10)); // written before the guest left, not sealed yet
  const r = await sync(b, U, '--from', 'lab-a');
  t.is(r.code, 4, r.stdout.toString());
  t.is(readFetchRecord(b.config.stateDir, U)?.status, 'waiting-for-seal');
  await seal(a, U, 'migrated');
  const r2 = await sync(b, U);
  t.is(r2.code, 0);
  t.is(await content(b, U), lines('early', 0, 10) + lines('late', 0, 10));
});

test('the migrate-begin job polls the source until its seal after the guest left appears', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  await write(a, U, lines('run', 0, 100));
  const now = new Date().toISOString();
  const rec: FetchRecord = {
    uuid: U,
    previousHost: 'lab-a',
    candidates: ['lab-a'],
    since: now,
    status: 'running',
    attempts: 0,
    segmentsFetched: 0,
    bytesFetched: 0,
    updated: now,
  };
  writeFetchRecord(b.config.stateDir, rec);
  const job = runFetch(b.config, U, { waitForSeal: true, sealWaitMs: 30_000 });
  // The guest keeps printing on the source until the switchover, then the source seals.
  await new Promise((r) => setTimeout(r, 1500));
  await write(a, U, lines('run', 100, 150));
  await seal(a, U, 'migrated');
  const done = await job;
  t.is(done.status, 'complete');
  t.is(await content(b, U), lines('run', 0, 150));
});

/** Two hosts that see one `console.log` (a shared instances folder); A printed 40 lines and left. */
async function sharedNovaLog(t: ExecutionContext, prefix: string) {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const nova = join(w.dir, 'shared', U, 'console.log');
  await write(a, U, lines(prefix, 0, 40), { path: nova });
  await seal(a, U, 'migrated');
  return { a, b: w.host('lab-b'), nova };
}

test('a file on a shared instances folder is not copied: its bytes are readable here already', async (t) => {
  const { b, nova } = await sharedNovaLog(t, 'nova');
  await write(b, U, lines('nova-b', 0, 5), { path: nova, generation: 1 });
  const r = await sync(b, U, '--from', 'lab-a');
  t.is(r.code, 0, r.stdout.toString() + r.stderr);
  t.is(listSegments(b.config, U).length, 0);
  t.is(readFileSync(nova, 'utf8'), lines('nova', 0, 40) + lines('nova-b', 0, 5));
});

test("a shared append log: the peer's boot marker there is a boot here once fetched, never text", async (t) => {
  const { a, b, nova } = await sharedNovaLog(t, 'one');
  // On B the guest goes on, then restarts: B's prepare writes its marker into the log both see.
  await write(b, U, lines('one', 40, 50), { path: nova, generation: 1 });
  const id = 'b0a7c0ffee000001';
  await withStore(b.config, U, (s) => void (s.domain = withMarkers(s.domain, 'lab-b', [id])));
  appendFileSync(nova, bootMarkerLine(id, 'lab-b', new Date('2026-12-04T10:00:00Z')) + lines('two', 0, 20));
  // Back on A (continuing B's boot): A never wrote that marker.
  await write(a, U, '', { path: nova, generation: 2 });
  const show = async () => (await cli(['--config', a.configFile, 'show', U])).stdout.toString();
  t.regex(await show(), new RegExp(`^${MARKER_PREFIX}${id}`, 'm'), 'unknown to A: text, not a boot');
  const r = await sync(a, U, '--from', 'lab-b');
  t.is(r.code, 0, r.stdout.toString() + r.stderr);
  t.deepEqual(readDomainState(a, U).peerMarkers, [id]);
  t.is(
    await show(),
    `-- Boot - on lab-a (output from before boots were marked) --\n${lines('one', 0, 50)}-- Boot ${id} on lab-b at 2026-12-04T10:00:00.000Z --\n${lines('two', 0, 20)}`,
  );
  const again = await sync(a, U, '--from', 'lab-b');
  t.is(again.code, 0, again.stderr);
  t.deepEqual(readDomainState(a, U).peerMarkers, [id], 'learnt once');
});

const GUEST_XML = `<domain type='qemu'><name>guest1</name><uuid>${U}</uuid></domain>`;

function hookContext(h: TestHost, op: string, notes: string[]): HookContext {
  return {
    event: { domain: 'guest1', op, subop: 'begin', extra: '-' },
    xml: GUEST_XML,
    domain: parseDomain(GUEST_XML),
    config: h.config,
    report: (m) => notes.push(`report: ${m}`),
    fail: (m) => notes.push(`report: ${m}`),
    note: (m) => notes.push(m),
    env: { PATH: process.env.PATH, VIRT_CONSOLELOG_CONFIG: h.configFile },
    now: () => new Date(),
  };
}

const rewritten = (previousHost: string | undefined, generation: number): RewriteResult => ({
  xml: GUEST_XML,
  changed: true,
  devices: [],
  ...(previousHost ? { previousHost } : {}),
  generation,
  warnings: [],
});

test('startHistoryFetch: records the debt and starts a detached job that completes it', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  await write(a, U, lines('before', 0, 500));
  await seal(a, U, 'migrated');
  const notes: string[] = [];
  const rec = await startHistoryFetch(hookContext(b, 'migrate', notes), rewritten('lab-a', 1));
  t.is(rec?.status, 'running');
  t.is(rec?.previousGeneration, 0);
  t.regex(notes.join('\n'), /history fetch from lab-a started \(job \d+\)/);
  const end = Date.now() + 30_000;
  while (Date.now() < end && readFetchRecord(b.config.stateDir, U)?.status !== 'complete') {
    await new Promise((r) => setTimeout(r, 200));
  }
  t.is(
    readFetchRecord(b.config.stateDir, U)?.status,
    'complete',
    JSON.stringify(readFetchRecord(b.config.stateDir, U)),
  );
  t.is(await content(b, U), lines('before', 0, 500));
  // restore begin is not a hop: nothing is fetched.
  t.is(await startHistoryFetch(hookContext(b, 'restore', notes), rewritten('lab-a', 1)), undefined);
});

test('startHistoryFetch: no hint and no peers, or a shared store: nothing to fetch, said so', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const b = w.host('lab-b');
  const notes: string[] = [];
  const none = await startHistoryFetch(hookContext(b, 'migrate', notes), rewritten(undefined, 0));
  t.is(none?.status, 'nothing');
  t.regex(none?.lastError ?? '', /no previous host known/);
  // Shared store: the previous host wrote this very domain.json (a private store names only this host).
  await withStore(b.config, U, (s) => {
    s.domain = withHost(s.domain, 'lab-a', { generation: 2, devices: {} });
  });
  const shared = await startHistoryFetch(hookContext(b, 'migrate', notes), rewritten('lab-a', 3));
  t.is(shared?.status, 'nothing');
  t.regex(notes.join('\n'), /store shared with lab-a/);
  t.deepEqual(readdirSync(b.config.stateDir).sort(), ['domains']);
  t.true(sharedWith(b.config, U, 'lab-a'));
  // A domain.json naming only this host (a private store) is not shared with anyone.
  const d = w.host('lab-d');
  await write(d, U, 'x\n');
  t.false(sharedWith(d.config, U, 'lab-a'));
  t.false(sharedWith(d.config, U, 'lab-d'));
  // A peer list stands in for a missing hint.
  const withPeers = w.host('lab-c', 'peers = [ "lab-a", "lab-c" ]');
  const viaPeers = await startHistoryFetch(hookContext(withPeers, 'migrate', notes), rewritten(undefined, 0));
  t.deepEqual(viaPeers?.candidates, ['lab-a']);
});

test('sha256 of fetched content equals the source sidecar', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  await write(a, U, Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256)).toString('latin1'));
  await seal(a, U);
  t.is((await sync(b, U, '--from', 'lab-a')).code, 0);
  const [src] = listSegments(a.config, U);
  const [dst] = listSegments(b.config, U);
  let got = Buffer.alloc(0);
  for await (const c of openSegment(b.config, U, dst!.key)) got = Buffer.concat([got, c as Buffer]);
  t.is(createHash('sha256').update(got).digest('hex'), src!.sha256);
});

test('a shared file sealed by both hosts, then truncated: the bytes this host sealed already are not imported twice', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  const nova = join(w.dir, 'shared', U, 'console.log');
  await write(a, U, lines('one', 0, 40), { path: nova });
  await seal(a, U, 'migrated'); // A seals [0, e) of the shared file when the guest leaves it
  await write(b, U, lines('one', 40, 60), { path: nova, generation: 1 });
  await seal(b, U, 'restart'); // B, whose watermark is 0, seals [0, e2): A's bytes too
  writeFileSync(nova, ''); // the restart truncates the shared file
  const r = await sync(a, U, '--from', 'lab-b');
  t.is(r.code, 0, r.stdout.toString() + r.stderr);
  t.regex(r.stdout.toString(), /were here already/);
  t.is(await content(a, U), lines('one', 0, 60), 'every line once');
  const again = await sync(a, U);
  t.is(again.code, 0);
  t.is(await content(a, U), lines('one', 0, 60), 'a re-run adds nothing');
});

test("a shared file truncated in place twice: the peer's seal of a later boot is trimmed of what this host sealed of it", async (t) => {
  // A shared console.log (one inode) holds boot 1, then, truncated in place, boot 2: this store has
  // sealed [0, x) of it twice, once per boot. The peer's seal of boot 2 starts with this store's
  // boot-2 bytes, not its boot-1 bytes at the same offsets: that is what must be cut off.
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b');
  const nova = join(w.dir, 'shared', U, 'console.log');
  await write(a, U, lines('one', 0, 40), { path: nova });
  await seal(a, U, 'migrated'); // A seals boot 1 [0, e) when the guest leaves it for B
  await write(b, U, lines('one', 40, 60), { path: nova, generation: 1 });
  await seal(b, U, 'restart'); // B seals [0, e2) of boot 1, then its restart truncates the file
  writeFileSync(nova, lines('two', 0, 20));
  await seal(b, U, 'migrated'); // boot 2 [0, x) as the guest leaves B for A
  appendFileSync(nova, lines('two', 20, 50)); // A carries on with boot 2 in the same file
  await seal(a, U, 'restart'); // A's watermark no longer fits (new head): boot 2 sealed from 0
  writeFileSync(nova, lines('three', 0, 5)); // A's restart truncates it again
  const r = await sync(b, U, '--from', 'lab-a');
  t.is(r.code, 0, r.stdout.toString() + r.stderr);
  const all = (await content(b, U)).split('\n').filter(Boolean);
  const counts = new Map<string, number>();
  for (const l of all) counts.set(l, (counts.get(l) ?? 0) + 1);
  t.deepEqual(
    [...counts].filter(([, n]) => n > 1).map(([l]) => l),
    [],
    'no line twice',
  );
  for (const l of (lines('one', 0, 60) + lines('two', 0, 50)).split('\n').filter(Boolean))
    t.true(counts.has(l), `${l} is there`);
});

test('retryPendingFetch: a failed fetch is restarted at the next event, a complete one is left alone', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  await write(a, U, lines('r', 0, 30));
  await seal(a, U);
  const down = w.host('lab-b', 'transport_command = [ "/nonexistent/transport" ]');
  t.is((await sync(down, U, '--from', 'lab-a')).code, 1);
  const b = w.host('lab-b'); // lab-a reachable again
  const notes: string[] = [];
  t.true(await retryPendingFetch(hookContext(b, 'prepare', notes), U));
  t.regex(notes.join('\n'), /history fetch retried \(failed; job \d+\)/);
  const end = Date.now() + 30_000;
  while (Date.now() < end && readFetchRecord(b.config.stateDir, U)?.status !== 'complete') {
    await new Promise((r) => setTimeout(r, 200));
  }
  t.is(readFetchRecord(b.config.stateDir, U)?.status, 'complete');
  t.is(await content(b, U), lines('r', 0, 30));
  t.false(await retryPendingFetch(hookContext(b, 'prepare', notes), U), 'nothing to do once complete');
  t.false(await retryPendingFetch(hookContext(b, 'prepare', notes), '11111111-2222-4333-8444-555555555555'));
});

test('an unexpected error (store lock held too long) ends as a recorded failure, not a stuck "running"', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = w.host('lab-a');
  const b = w.host('lab-b', 'lock_wait_ms = 200');
  await write(a, U, lines('l', 0, 10));
  await seal(a, U);
  ensureDomainDir(b.config, U).close();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const holder = withDomainLock(b.config, U, () => held, { waitMs: 1000 });
  await new Promise((r) => setTimeout(r, 100));
  const r = await sync(b, U, '--from', 'lab-a');
  release();
  await holder;
  t.is(r.code, 1);
  const rec = readFetchRecord(b.config.stateDir, U);
  t.is(rec?.status, 'failed');
  t.regex(rec?.lastError ?? '', /lock/);
  t.is(rec?.pid, undefined);
  t.is((await sync(b, U)).code, 0, 'and the next sync completes it');
});
