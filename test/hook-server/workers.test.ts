// The capture service's event threads (src/hook-server/workers.ts): events run on the built worker
// entry give what the same event gives on the service's own thread; threads are started only while
// every one is busy, never more than the bound; a thread that dies fails its events (their launchers
// then run Node) and the next event gets a new thread.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { domain } from '../xml/helpers.js';
import { writeFolderConfig } from '../lifecycle/helpers.js';
import { runEvent } from '../../src/hook-server/event.js';
import { SERVICE_NOTE } from '../../src/lifecycle/run.js';
import { EventThreads, MAX_EVENT_THREADS, workerBundle } from '../../src/hook-server/workers.js';

const XML = domain(
  "<serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>" +
    "<console type='pty'><target type='serial' port='0'/></console>",
);

let root = '';
let env: NodeJS.ProcessEnv = {};
let xmlFile = '';
test.before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'vcl-event-threads-'));
  for (const d of ['store', 'live', 'state']) await mkdir(path.join(root, d));
  env = {
    LC_ALL: 'C',
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    VIRT_CONSOLELOG_CONFIG: await writeFolderConfig(root),
  };
  xmlFile = path.join(root, 'domain.xml');
  await writeFile(xmlFile, XML);
});
test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

test.serial(
  'events on the threads give what they give on the service thread; at most 4 threads',
  async (t) => {
    const file = workerBundle();
    if (!file) return t.fail('dist/hook-worker.mjs is missing: run `npm run build` first');
    const threads = new EventThreads(file, (m) => t.log(m));
    try {
      const here = await runEvent({
        argv: ['one', 'migrate', 'begin', '-'],
        env,
        stdinFile: xmlFile,
      });
      t.is(here.code, 0);
      t.regex(text(here.out), /<domain/);
      const runs = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          threads.run({
            argv: [i ? `guest-${i}` : 'one', 'migrate', 'begin', '-'],
            env,
            stdinFile: xmlFile,
          }),
        ),
      );
      t.is(threads.size, MAX_EVENT_THREADS);
      t.is(runs[0]?.code, 0);
      t.is(text(runs[0]?.out ?? new Uint8Array()), text(here.out));
      for (const r of runs) t.is(r.code, 0, text(r.err));
      // One at a time: the least busy (idle) thread takes it, none is added.
      await threads.run({ argv: ['one', 'release', 'end', '-'], env, stdinFile: xmlFile });
      t.is(threads.size, MAX_EVENT_THREADS);
      const journal = readFileSync(path.join(root, 'state/journal.log'), 'utf8').trim().split('\n');
      const served = journal.map((l) => JSON.parse(l) as { pid: number; notes: string[] });
      t.is(served.length, 14);
      t.true(served.every((e) => e.pid === process.pid && e.notes.includes(SERVICE_NOTE)));
    } finally {
      await threads.close();
    }
  },
);

test.serial('a thread that dies fails its events, and the next event gets a new thread', async (t) => {
  const dying = path.join(root, 'dying-worker.mjs');
  await writeFile(
    dying,
    "import { parentPort } from 'node:worker_threads';\n" +
      "import { existsSync } from 'node:fs';\n" +
      `parentPort.on('message', (m) => existsSync(${JSON.stringify(path.join(root, 'die'))}) ? process.exit(3) : parentPort.postMessage({ id: m.id, result: { code: 7, out: new Uint8Array(), err: new Uint8Array() } }));\n`,
  );
  const logged: string[] = [];
  const threads = new EventThreads(dying, (m) => logged.push(m), 2);
  const request = { argv: ['x', 'prepare', 'begin', '-'], env, stdinFile: xmlFile };
  try {
    t.is((await threads.run(request)).code, 7);
    await writeFile(path.join(root, 'die'), '');
    await t.throwsAsync(threads.run(request), { message: /event thread ended: exit code 3/ });
    t.is(threads.size, 0);
    t.regex(logged.join('\n'), /1 event\(s\) go to Node/);
    await rm(path.join(root, 'die'));
    t.is((await threads.run(request)).code, 7);
    t.is(threads.size, 1);
    t.false(existsSync(path.join(root, 'die')));
  } finally {
    await threads.close();
  }
});
