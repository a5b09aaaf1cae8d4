// Bundles the hook and the CLI into ES modules that run on Node >= 18.19, split into chunks so that
// each hook event and each command loads only the code it runs (BENCHMARKS.md: loading the whole
// bundle cost more than Node's own start-up). dist/hook.mjs and dist/virt-consolelog.mjs are the
// entry points; the code they share or load on demand is in dist/chunks/.
import { build } from 'esbuild';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';

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
  entryPoints: { hook: 'hooks/virt-consolelog-hook.ts', 'virt-consolelog': 'src/cli/main.ts' },
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
// The hook again as one CommonJS file for a V8 start-up snapshot (hooks/virt-consolelog-hook-snapshot.ts):
// import() becomes require (a snapshot has no ES module loader), import.meta.url is set at run time.
await build({
  entryPoints: { 'hook-snapshot': 'hooks/virt-consolelog-hook-snapshot.ts' },
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
    'import.meta.url': 'globalThis.__vclHookUrl',
  },
  logLevel: 'warning',
});
const cli = await readFile('dist/virt-consolelog.mjs', 'utf8');
await writeFile('dist/virt-consolelog.mjs', '#!/usr/bin/env node\n' + cli);
await chmod('dist/virt-consolelog.mjs', 0o755);

// The installed hook is a POSIX sh launcher: ignored events exit before any Node starts.
const launcher = await readFile('packaging/hook-launcher.sh.in', 'utf8');
await writeFile('dist/hook-launcher.sh.in', launcher);
await writeFile(
  'dist/virt-consolelog-hook',
  launcher
    .replaceAll('@HOOK_JS@', new URL('../dist/hook.mjs', import.meta.url).pathname)
    .replaceAll('@HOOK_SNAPSHOT_JS@', new URL('../dist/hook-snapshot.cjs', import.meta.url).pathname),
  { mode: 0o755 },
);
