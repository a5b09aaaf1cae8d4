// The command registry is light: a command's module, and what it imports, loads only when it runs.
// Checked on the built CLI (dist/): a resolve hook records every module a run loads, and the chunks
// are recognised by the source paths esbuild writes into them (`// src/transfer/fetch.ts`).
import test from 'ava';
import { execa } from 'execa';
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/registry.js';
import { liveLogPath } from '../../src/store/layout.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI = join(REPO, 'dist', 'virt-consolelog.mjs');

/** Source paths whose code `show` must not load. */
const NOT_FOR_SHOW = [
  '// node_modules/execa/',
  '// node_modules/fast-xml-parser/',
  // The reader takes the domain lock only when a writer is at work.
  '// node_modules/proper-lockfile/',
  '// src/transfer/',
  '// src/xml/',
  '// src/definitions/',
  '// src/cli/commands/sync.ts',
];

const RECORDER = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  if (r.url.startsWith('file:')) appendFileSync(process.env.VCL_RECORD, r.url + '\\\\n');
  return r;
}\`));
`;

/** Runs the built CLI and returns its exit code and the source paths of every module file it loaded. */
async function loadedSources(
  base: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; sources: Set<string>; files: string[] }> {
  const recorder = join(base, 'record.mjs');
  const record = join(base, `loaded-${args[0] ?? 'none'}-${args.length}.txt`);
  fs.writeFileSync(recorder, RECORDER);
  fs.rmSync(record, { force: true });
  const r = await execa(process.execPath, ['--import', recorder, CLI, ...args], {
    env: { ...env, VCL_RECORD: record },
    extendEnv: false,
    reject: false,
  });
  const files = [...new Set(fs.readFileSync(record, 'utf8').split('\n').filter(Boolean))].map((u) =>
    fileURLToPath(u),
  );
  const sources = new Set<string>();
  for (const f of files)
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/^\/\/ ((?:src|node_modules)\/\S+)$/gm))
      sources.add(`// ${m[1]}`);
  return { code: r.exitCode ?? -1, sources, files };
}

test('the registry lists each command once, and each module has a help text and a run', async (t) => {
  const names = COMMANDS.map((c) => c.name);
  t.deepEqual([...new Set(names)], names);
  for (const c of COMMANDS) {
    const m = await c.load();
    t.true(m.usage.startsWith(`usage: virt-consolelog ${c.name}`), c.name);
    t.is(typeof m.run, 'function');
  }
});

test('show loads neither execa, the XML parser, the transfer code nor the lock library', async (t) => {
  t.true(fs.existsSync(CLI), 'dist/ is built (npm run build)');
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(`<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.appendFileSync(live, 'hello\n');
  await hook(env, ['guest1', 'release', 'end', 'shutdown'], xml);
  const show = await loadedSources(config.base, ['show', '-n', '5', 'guest1'], env);
  t.is(show.code, 0);
  t.true(
    show.sources.has('// src/history/reader.ts'),
    `the recorder sees the reader: ${[...show.sources].join(' ')}`,
  );
  for (const s of NOT_FOR_SHOW)
    t.false(
      [...show.sources].some((x) => x.startsWith(s)),
      `show loaded ${s}`,
    );
  // The same check sees what a command that needs them loads: it is not blind.
  const sync = await loadedSources(config.base, ['sync', '--help'], env);
  t.is(sync.code, 0);
  t.true(sync.sources.has('// src/cli/commands/sync.ts'));
  t.true([...sync.sources].some((s) => s.startsWith('// src/transfer/')));
  t.true([...sync.sources].some((s) => s.startsWith('// node_modules/execa/')));
});

test('--help loads no command module', async (t) => {
  const { config, env } = hookEnv();
  const help = await loadedSources(config.base, ['--help'], env);
  t.is(help.code, 0);
  t.false(
    [...help.sources].some((s) => s.startsWith('// src/cli/commands/')),
    [...help.sources].join(' '),
  );
});
