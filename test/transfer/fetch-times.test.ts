// Arrival times travel with fetched segments: two real stores, the real export command (dist/ CLI)
// as transport, `show -o json` on both hosts compared line by line.
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMPORTED_TIMES_FILE, identityKey } from '../../src/capture/imported-times.js';
import { pointLine, timesFileName } from '../../src/capture/times.js';
import { parseConfig } from '../../src/config/parse.js';
import { listSegments } from '../../src/store/segments.js';
import { segmentsWantingTimes } from '../../src/transfer/fetch-times.js';
import type { ListedSegment, Listing } from '../../src/transfer/protocol.js';
import { CLI_JS, cli, makeWorld, seal, write, type TestHost, type World } from './helpers.js';

const U = '0f8fad5b-d9cb-469f-a165-70867728950e';
const T0 = Date.parse('2026-11-02T10:00:00Z');

test.before(() => {
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} missing: npm run build first`);
});

interface JsonLine {
  text: string;
  time: string;
  coarse: boolean;
}

async function showJson(h: TestHost): Promise<JsonLine[]> {
  const r = await cli(['--config', h.configFile, 'show', U, '-o', 'json', '--no-pager']);
  if (r.code !== 0) throw new Error(`show on ${h.name}: ${r.stderr}`);
  return r.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as JsonLine & { type: string })
    .filter((o) => o.type === 'line')
    .map(({ text, time, coarse }) => ({ text, time, coarse }));
}

/**
 * Host A: a segment whose three lines have arrival points (as its capture service writes them),
 * then a segment no service timed.
 */
async function timedSource(w: World): Promise<TestHost> {
  const a = w.host('lab-a');
  await write(a, U, 'one\ntwo\nthree\n');
  await seal(a, U, 'restart');
  const seg = listSegments(a.config, U)[0]!;
  const file = { dev: seg.origin.dev, ino: seg.origin.ino, birth: seg.watermark?.birthtimeMs ?? 0 };
  writeFileSync(
    join(a.config.logRoot, U, timesFileName('lab-a')),
    [4, 8, 14].map((offset, i) => pointLine(file, { offset, time: T0 + i * 1000 })).join(''),
  );
  await write(a, U, 'untimed\n');
  await seal(a, U, 'migrated');
  return a;
}

/** Host B fetching through a wrapper that answers `times` itself (`mode`), the rest as the real export. */
function hostBehindWrapper(
  w: World,
  name: string,
  mode: 'old' | 'garbage-frame' | 'garbage-points',
): TestHost {
  const h = w.host(name);
  const wrapper = join(w.dir, `wrapper-${name}.mjs`);
  const bad = JSON.stringify({
    protocol: 1,
    uuid: U,
    key: '000000-00000001-lab-a',
    sha256: listSegments(w.host('lab-a').config, U)[0]!.sha256,
    // Good: [4, T0] and [14, T0+2000]; the rest is garbage a peer must not be trusted with.
    points: [
      [4, T0],
      [4, T0 + 5],
      [-1, T0],
      ['8', T0],
      [8, 5],
      [9, T0 + 99e9],
      [999, T0],
      [14, T0 + 2000],
      'x',
    ],
  });
  writeFileSync(
    wrapper,
    [
      "import { spawnSync } from 'node:child_process';",
      'const args = process.argv.slice(2);',
      "const words = args.slice(args.indexOf('serve-export') + 1);",
      "if (words[0] === 'times') {",
      `  const mode = ${JSON.stringify(mode)};`,
      "  if (mode === 'old') { process.stderr.write('unknown request \"times\"\\n'); process.exit(2); }",
      `  process.stdout.write(mode === 'garbage-frame' ? '{"protocol":1,"uuid":"${U}","key":"../x"}\\n' : ${JSON.stringify(bad + '\n')});`,
      '  process.exit(0);',
      '}',
      "const r = spawnSync(args[0], args.slice(1), { stdio: 'inherit' });",
      'process.exit(r.status ?? 1);',
    ].join('\n'),
  );
  const text = readFileSync(h.configFile, 'utf8').replace(
    /^transport_command = \[ /m,
    `transport_command = [ "${process.execPath}", "${wrapper}", `,
  );
  writeFileSync(h.configFile, text);
  const { config, errors } = parseConfig(text, h.configFile);
  if (errors.length) throw new Error(errors.map((e) => e.message).join('; '));
  return { ...h, config };
}

test('fetched segments keep their exact times; a re-run adds no point twice', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  const a = await timedSource(w);
  const b = w.host('lab-b');
  const onA = await showJson(a);
  t.deepEqual(
    onA.slice(0, 3).map((l) => [l.text, l.coarse]),
    [
      ['one', false],
      ['two', false],
      ['three', false],
    ],
  );
  t.is(onA[0]!.time, new Date(T0).toISOString());
  t.true(onA[3]!.coarse, 'the untimed segment is coarse on A');
  const r = await cli(['--config', b.configFile, 'sync', U, '--from', 'lab-a']);
  t.is(r.code, 0, r.stdout.toString() + r.stderr);
  t.regex(r.stdout.toString() + r.stderr, /arrival times of 1 fetched segment/);
  t.deepEqual(await showJson(b), onA, 'B shows the same times as A, exact where A had them');
  const imported = join(b.config.logRoot, U, IMPORTED_TIMES_FILE);
  const before = readFileSync(imported, 'utf8');
  t.is(before.split('\n').filter(Boolean).length, 1);
  const again = await cli(['--config', b.configFile, 'sync', U, '--from', 'lab-a']);
  t.is(again.code, 0, again.stderr);
  t.is(readFileSync(imported, 'utf8'), before, 'a re-run appends nothing');
  t.deepEqual(await showJson(b), onA);
  // On to a third host: B exports the imported points as its own.
  const c = w.host('lab-c');
  const hop = await cli(['--config', c.configFile, 'sync', U, '--from', 'lab-b']);
  t.is(hop.code, 0, hop.stderr);
  t.deepEqual(await showJson(c), onA, 'times travel on from an import');
});

test('a peer that predates `times`, or sends a bad frame: the fetch completes, times stay coarse', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  await timedSource(w);
  for (const mode of ['old', 'garbage-frame'] as const) {
    const b = hostBehindWrapper(w, `lab-${mode}`, mode);
    const r = await cli(['--config', b.configFile, 'sync', U, '--from', 'lab-a']);
    t.is(r.code, 0, r.stdout.toString() + r.stderr);
    t.regex(r.stdout.toString(), /complete; 2 segments/);
    t.regex(
      r.stdout.toString() + r.stderr,
      /lab-a: (no arrival times offered|arrival times of \S+ refused).*coarse times/,
    );
    const lines = await showJson(b);
    t.deepEqual(
      lines.map((l) => l.text),
      ['one', 'two', 'three', 'untimed'],
    );
    t.true(
      lines.every((l) => l.coarse),
      mode,
    );
    t.false(existsSync(join(b.config.logRoot, U, IMPORTED_TIMES_FILE)));
  }
});

test('garbage points from a peer are dropped one by one, the good ones kept, the fetch completes', async (t) => {
  const w = makeWorld();
  t.teardown(() => w.cleanup());
  await timedSource(w);
  const b = hostBehindWrapper(w, 'lab-b', 'garbage-points');
  const r = await cli(['--config', b.configFile, 'sync', U, '--from', 'lab-a']);
  t.is(r.code, 0, r.stdout.toString() + r.stderr);
  t.regex(r.stdout.toString() + r.stderr, /lab-a: 7 arrival time point\(s\) failed the checks: dropped/);
  const lines = await showJson(b);
  t.deepEqual(
    lines.slice(0, 3).map((l) => [l.text, l.time, l.coarse]),
    [
      ['one', new Date(T0).toISOString(), false],
      // No point at 8 survived: "two" takes the next point's time, as on a host that missed one.
      ['two', new Date(T0 + 2000).toISOString(), false],
      ['three', new Date(T0 + 2000).toISOString(), false],
    ],
  );
});

test('segmentsWantingTimes: imports here without times, by the identity the reader uses (pure)', (t) => {
  const sha = (c: string) => c.repeat(64);
  const listed = (key: string, sha256: string, sidecar: Record<string, unknown> = {}): ListedSegment => ({
    key,
    host: 'lab-b',
    generation: 0,
    seq: 1,
    bytes: 10,
    sha256,
    reason: 'stop',
    sidecar,
  });
  const own = listed('000000-00000001-lab-b', sha('a'));
  const hop = listed('000000-00000002-lab-b', sha('b'), { importedFrom: { host: 'lab-a', key: 'k1' } });
  const trimmed = listed('000000-00000003-lab-b', sha('c'), {
    importedFrom: { host: 'lab-a', key: 'k2' },
    trimmedFrom: { sha256: sha('d'), bytes: 4 },
  });
  const listing = { segments: [own, hop, trimmed] } as Listing;
  const key = (host: string, k: string, s: string) => identityKey({ host, key: k, sha256: s });
  const here = new Set([
    key('lab-b', own.key, sha('a')),
    key('lab-a', 'k1', sha('b')),
    key('lab-a', 'k2', sha('d')),
  ]);
  t.deepEqual([...segmentsWantingTimes(listing, here, new Set()).keys()], [own.key, hop.key, trimmed.key]);
  t.deepEqual(
    [...segmentsWantingTimes(listing, here, new Set([key('lab-a', 'k1', sha('b'))])).keys()],
    [own.key, trimmed.key],
    'an import with times is not asked again',
  );
  t.deepEqual([...segmentsWantingTimes(listing, new Set(), new Set()).keys()], [], 'nothing imported here');
});
