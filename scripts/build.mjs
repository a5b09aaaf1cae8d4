// Bundles the hook and the CLI into self-contained ES modules that run on Node >= 18.19.
import { build } from 'esbuild';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
// CommonJS dependencies (proper-lockfile, graceful-fs) call require(): give the ES bundle one.
const banner = [
  "import { createRequire as __vclCreateRequire } from 'node:module';",
  'const require = __vclCreateRequire(import.meta.url);',
].join('\n');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node18.19',
  format: 'esm',
  sourcemap: false,
  legalComments: 'none',
  define: { VIRT_CONSOLELOG_VERSION: JSON.stringify(pkg.version) },
  logLevel: 'warning',
};

await mkdir('dist', { recursive: true });
await build({
  ...common,
  entryPoints: ['hooks/virt-consolelog-hook.ts'],
  outfile: 'dist/hook.mjs',
  banner: { js: banner },
});
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/virt-consolelog.mjs',
  banner: { js: '#!/usr/bin/env node\n' + banner },
});
await chmod('dist/virt-consolelog.mjs', 0o755);

// The installed hook is a POSIX sh launcher: ignored events exit before any Node starts.
const launcher = await readFile('packaging/hook-launcher.sh.in', 'utf8');
await writeFile('dist/hook-launcher.sh.in', launcher);
await writeFile(
  'dist/virt-consolelog-hook',
  launcher.replaceAll('@HOOK_JS@', new URL('../dist/hook.mjs', import.meta.url).pathname),
  { mode: 0o755 },
);
