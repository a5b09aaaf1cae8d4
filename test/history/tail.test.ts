// -n and -c against `tail` semantics on the raw output, and -b against the whole history, on a
// history of gzip and plain segments, boots inside one segment, rotations and an unsealed tail.
import test from 'ava';
import * as fs from 'node:fs';
import { readHistory, type ReadOptions } from '../../src/history/reader.js';
import { liveLogPath } from '../../src/store/layout.js';
import { listSegments } from '../../src/store/segments.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

/** Deterministic guest output of varied line lengths, some without a final newline. */
function output(boot: number, lines: number, seed: number): string {
  let s = '';
  let x = seed;
  for (let i = 0; i < lines; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    s += `b${boot} ${String(i).padStart(6, '0')} ${'#'.repeat(x % 97)}\n`;
  }
  return s;
}

async function build(compressMinBytes: number) {
  const { config, env } = hookEnv({ compressMinBytes });
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  const start = () => hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  const stop = () => hook(env, ['guest1', 'release', 'end', 'shutdown'], xml);
  const write = (s: string) => fs.appendFileSync(live, s);
  // Two boots sealed into one segment (the second boot starts inside it), a rotation, more boots.
  await start();
  write(output(1, 3000, 1));
  await start();
  write(output(2, 2500, 2) + 'b2 unfinished');
  await stop();
  await start();
  write(output(3, 4000, 3));
  fs.renameSync(live, live + '.0');
  write(output(3, 1500, 4));
  await stop();
  await start();
  write(output(4, 2000, 5)); // live, not sealed
  return config;
}

async function collect(config: Parameters<typeof readHistory>[0], o: ReadOptions): Promise<string> {
  let s = '';
  for await (const e of readHistory(config, 'guest1', o))
    if (e.type === 'data') s += e.data.toString('latin1');
  return s;
}

function tailLines(s: string, n: number): string {
  if (n === 0) return '';
  return s
    .split(/(?<=\n)/)
    .slice(-n)
    .join('');
}

for (const [what, compressMinBytes] of [
  ['gzip segments', 1],
  ['plain segments', -1],
] as const) {
  test(`-n and -c give what tail gives on the raw output (${what})`, async (t) => {
    const config = await build(compressMinBytes);
    const raw = await collect(config, { bytes: 1e12 });
    t.true(raw.length > 500_000);
    const segs = listSegments(config, UUID);
    t.true(
      segs.some((s) => s.boots.length === 2),
      'a segment holds two boots',
    );
    t.true(
      segs.every((s) => s.compressed === compressMinBytes >= 0),
      what,
    );
    for (const n of [
      0, 1, 2, 3, 10, 999, 1000, 1999, 2000, 2001, 3500, 5000, 8000, 9499, 9500, 12000, 20000, 1e9,
    ])
      t.is(await collect(config, { lines: n }), tailLines(raw, n), `-n ${n}`);
    for (const c of [0, 1, 2, 1000, 65535, 65536, 300_000, raw.length - 1, raw.length, 1e12])
      t.is(await collect(config, { bytes: c }), raw.slice(-c || raw.length, c ? undefined : 0), `-c ${c}`);
  });

  test(`each boot (-b), in order, is the whole history (${what})`, async (t) => {
    const config = await build(compressMinBytes);
    const whole = await collect(config, {});
    let joined = '';
    for (let b = 1; b <= 4; b++) joined += await collect(config, { boot: String(b) });
    t.is(joined, whole);
    // A boot that ends inside a segment: the read stops there (a gzip one is decoded only so far).
    t.true((await collect(config, { boot: '1' })).endsWith('\n'));
    t.true((await collect(config, { boot: '2' })).startsWith('b2 000000 '));
    t.is(await collect(config, { boot: '1', lines: 2 }), tailLines(await collect(config, { boot: '1' }), 2));
  });
}
