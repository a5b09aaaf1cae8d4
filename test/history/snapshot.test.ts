// The reader's snapshot takes no lock when no writer is at work, and is what a locked one would be.
import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { openHistory, readHistory, storeStamp } from '../../src/history/reader.js';
import { DOMAIN_STATE_FILE, liveLogPath, SEAL_STATE_FILE } from '../../src/store/layout.js';
import { withDomainLock } from '../../src/store/lock.js';
import { sealHost } from '../../src/store/seal.js';
import { domainStateText, openDomainDir, readDomainState, writeDomainState } from '../../src/store/store.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

async function build(over: Parameters<typeof hookEnv>[0] = {}) {
  const { config, env } = hookEnv(over);
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, 'one\ntwo\n');
  await hook(env, ['guest1', 'release', 'end', 'shutdown'], xml);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, 'three\n');
  return { config, env, live, xml };
}

async function raw(config: Parameters<typeof readHistory>[0]): Promise<string> {
  let s = '';
  for await (const e of readHistory(config, 'guest1', { bytes: 1e12 })) if (e.type === 'data') s += e.data;
  return s;
}

test('a sealed.json older than the archive listing (a seal between the two reads) counts nothing twice', async (t) => {
  const { config, live } = await build();
  const sealed = join(config.logRoot, UUID, SEAL_STATE_FILE);
  const before = fs.readFileSync(sealed);
  await sealHost(config, UUID, 'hosta', 'test'); // seals 'three', which was live
  fs.appendFileSync(live, 'four\n');
  // The reader read sealed.json first, then listed the archive after this seal completed:
  fs.writeFileSync(sealed, before);
  t.is(await raw(config), 'one\ntwo\nthree\nfour\n');
});

test('while a writer holds the lock the reader waits for it, then sees its work once', async (t) => {
  const { config, live } = await build();
  let released = false;
  let reading: Promise<string> | undefined;
  await withDomainLock(config, UUID, async () => {
    reading = openHistory(config, 'guest1').then(async (h) => {
      h.close();
      t.true(released, 'the snapshot was taken after the writer released the lock');
      return raw(config);
    });
    await new Promise((r) => setTimeout(r, 50));
    fs.appendFileSync(live, 'four\n');
    released = true;
  });
  t.is(await reading, 'one\ntwo\nthree\nfour\n');
});

test('a lock held for good (a hung writer): the reader gives up waiting and reads without it', async (t) => {
  const { config } = await build({ lockWaitMs: 100 });
  let release: () => void = () => undefined;
  let holding: () => void = () => undefined;
  const acquired = new Promise<void>((r) => (holding = r));
  // Wait until the lock is really held (a fixed delay lost that race on a busy machine).
  const held = withDomainLock(config, UUID, () => {
    holding();
    return new Promise<void>((r) => (release = r));
  });
  await acquired;
  try {
    t.is(await raw(config), 'one\ntwo\nthree\n');
  } finally {
    release();
    await held;
  }
});

test('the stamp changes with every writer step the snapshot could miss, and is absent under the lock', async (t) => {
  const { config } = await build();
  const dir = openDomainDir(config, UUID);
  if (!dir) throw new Error('no store');
  const archive = dir.sub('archive');
  try {
    const s0 = storeStamp(dir, archive);
    t.truthy(s0);
    t.is(storeStamp(dir, archive), s0);
    writeDomainState(dir, domainStateText(readDomainState(dir, UUID)), 0o640); // same content, new file
    const s1 = storeStamp(dir, archive);
    t.not(s1, s0);
    archive.writeAtomic('x.tmp', 'x');
    t.not(storeStamp(dir, archive), s1);
    fs.mkdirSync(join(config.logRoot, UUID, '.lock'));
    t.is(storeStamp(dir, archive), undefined);
    fs.rmdirSync(join(config.logRoot, UUID, '.lock'));
    t.true(fs.existsSync(join(config.logRoot, UUID, DOMAIN_STATE_FILE)));
  } finally {
    archive.close();
    dir.close();
  }
});

test('a reader without the archive index, or with it, reads the same', async (t) => {
  const { config } = await build();
  const h = await openHistory(config, 'guest1');
  h.close();
  t.is(h.sidecarsRead, 0);
  const text = await raw(config);
  fs.rmSync(join(config.logRoot, UUID, 'archive', 'index.jsonl'));
  const h2 = await openHistory(config, 'guest1');
  h2.close();
  t.is(h2.sidecarsRead, 1);
  t.is(await raw(config), text);
});
