// Bundles the hook and the CLI into ES modules that run on Node >= 18.19, split into chunks so that
// each hook event and each command loads only the code it runs (BENCHMARKS.md: loading the whole
// bundle cost more than Node's own start-up). dist/hook.mjs and dist/virt-consolelog.mjs are the
// entry points; the code they share or load on demand is in dist/chunks/.
import { build } from 'esbuild';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
// CommonJS dependencies (proper-lockfile, graceful-fs) call require(): give every ES module one.
const banner = [
  "import { createRequire as __vclCreateRequire } from 'node:module';",
  'const require = __vclCreateRequire(import.meta.url);',
].join('\n');

// Chunk names change with their content: old ones must not linger (packages ship dist/chunks/ whole).
await rm('dist/chunks', { recursive: true, force: true });
await mkdir('dist', { recursive: true });
await build({
  entryPoints: { hook: 'hooks/virt-consolelog-hook.ts', 'virt-consolelog': 'src/cli/bin.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node18.19',
  format: 'esm',
  sourcemap: false,
  legalComments: 'none',
  define: { VIRT_CONSOLELOG_VERSION: JSON.stringify(pkg.version) },
  banner: { js: banner },
  logLevel: 'warning',
});
// The CLI's one-file bundle runs only `show` (packaging/cli-launcher.sh.in passes nothing else to it):
// the other commands stay out of it, so that it compiles and snapshots only what `show` runs.
const showOnly = {
  name: 'show-only',
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\/[a-z-]+\.js$/ }, (a) =>
      a.importer.endsWith('/src/cli/registry.ts') && !a.path.endsWith('/show.js')
        ? { path: a.path, namespace: 'show-only' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'show-only' }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`${a.path}: only show is in this bundle; run virt-consolelog`)});`,
    }));
  },
};
// In CommonJS esbuild gives every `import * as fs from 'node:fs'` a copy of the module with a getter
// per property (__toESM), one per importing file: ~3 ms of `show` for its dozen copies of fs. Where
// the copy's `default` (a default import, in dependencies) is never read, the module itself serves.
async function useBuiltinsDirectly(file) {
  const text = await readFile(file, 'utf8');
  let replaced = 0;
  const direct = text.replace(/\b(\w+) = __toESM\(require\("(node:[a-z_/]+)"\), 1\);/g, (copy, name, id) => {
    if (text.includes(`${name}.default`)) return copy;
    replaced++;
    return `${name} = require("${id}");`;
  });
  if (!replaced)
    throw new Error(`${file}: no copy of a built-in module found: has esbuild's output changed?`);
  await writeFile(file, direct);
}
// The hook and the CLI again, each as one CommonJS file for a V8 start-up snapshot
// (hooks/virt-consolelog-hook-snapshot.ts, src/cli/snapshot.ts): import() becomes require (a snapshot
// has no ES module loader), import.meta.url is set at run time.
for (const [name, entry, urlGlobal] of [
  ['hook-snapshot', 'hooks/virt-consolelog-hook-snapshot.ts', '__vclHookUrl'],
  ['cli-snapshot', 'src/cli/snapshot.ts', '__vclCliUrl'],
]) {
  await build({
    entryPoints: { [name]: entry },
    outdir: 'dist',
    outExtension: { '.js': '.cjs' },
    bundle: true,
    platform: 'node',
    target: 'node18.19',
    format: 'cjs',
    supported: { 'dynamic-import': false },
    sourcemap: false,
    legalComments: 'none',
    define: {
      VIRT_CONSOLELOG_VERSION: JSON.stringify(pkg.version),
      'import.meta.url': `globalThis.${urlGlobal}`,
    },
    logLevel: 'warning',
    plugins: name === 'cli-snapshot' ? [showOnly] : [],
  });
  await useBuiltinsDirectly(`dist/${name}.cjs`);
}
const cli = await readFile('dist/virt-consolelog.mjs', 'utf8');
await writeFile('dist/virt-consolelog.mjs', '#!/usr/bin/env node\n' + cli);
await chmod('dist/virt-consolelog.mjs', 0o755);

// The installed hook and command are POSIX sh launchers: ignored events exit before any Node starts,
// and `show` starts from a snapshot where there is one. Here with this checkout's paths, for the tests.
const placeholders = {
  '@HOOK_JS@': 'hook.mjs',
  '@HOOK_SNAPSHOT_JS@': 'hook-snapshot.cjs',
  '@CLI_JS@': 'virt-consolelog.mjs',
  '@CLI_SNAPSHOT_JS@': 'cli-snapshot.cjs',
  '@ASK_SERVICE_SH@': 'ask-service.sh',
};
// Both launchers source it to hand a request to the capture service.
await copyFile('packaging/ask-service.sh', 'dist/ask-service.sh');
for (const [template, output] of [
  ['hook-launcher.sh.in', 'virt-consolelog-hook'],
  ['cli-launcher.sh.in', 'virt-consolelog'],
]) {
  const launcher = await readFile(`packaging/${template}`, 'utf8');
  await writeFile(`dist/${template}`, launcher);
  let filled = launcher;
  for (const [placeholder, file] of Object.entries(placeholders))
    filled = filled.replaceAll(placeholder, new URL(`../dist/${file}`, import.meta.url).pathname);
  await writeFile(`dist/${output}`, filled, { mode: 0o755 });
}
