// Trial (issue 20): does a V8 start-up snapshot of the hook start faster than loading dist/hook.mjs?
// Builds the hook as one CommonJS file (a snapshot entry may hold no ES modules and no open handles),
// evaluates every handler's modules into a blob with `node --build-snapshot`, and times, interleaved:
// `node -e 0`, a snapshot holding nothing, and the hook plain vs from its snapshot on an ignored event
// and on `migrate begin` (typical XML). Wall time (spawnSync) and CPU time (/usr/bin/time), medians.
// Usage: node --import tsx bench/trials/snapshot.ts [rounds] (VCL_BENCH_NODE / VCL_BENCH_NODE_LIBS: another
// Node, as in bench/hook-ns.ts). Writes nothing outside a temp folder; run `npm run build` first.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { domainXml } from '../lib/domainxml.js';
import { summarise } from '../lib/stats.js';

const repo = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const rounds = Number(process.argv[2] ?? 21);
const node = process.env.VCL_BENCH_NODE ?? '/usr/bin/node';
const libs = process.env.VCL_BENCH_NODE_LIBS;
const dir = mkdtempSync(join(tmpdir(), 'vcl-snapshot-trial-'));
try {
  const conf = join(dir, 'virt-consolelog.conf');
  writeFileSync(
    conf,
    [
      `log_root = "${dir}/store"`,
      `live_dir = "${dir}/live"`,
      `state_dir = "${dir}/state"`,
      'host_name = "benchhost"',
      `allowed_roots = [ "${dir}/store" ]`,
      'auto_enable = 0',
    ].join('\n') + '\n',
  );
  const env: Record<string, string> = { LC_ALL: 'C', PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
  env.VIRT_CONSOLELOG_CONFIG = conf;
  if (libs) env.LD_LIBRARY_PATH = libs;

  const entry = join(dir, 'entry.ts');
  writeFileSync(
    entry,
    [
      "import { startupSnapshot } from 'node:v8';",
      `import { runHook } from '${repo}/src/lifecycle/run.js';`,
      // Evaluated at build time, so that they are in the heap the snapshot holds.
      `import '${repo}/src/lifecycle/filter.js';`,
      `import '${repo}/src/lifecycle/prepare.js';`,
      `import '${repo}/src/lifecycle/stop.js';`,
      'startupSnapshot.setDeserializeMainFunction(() => {',
      '  void runHook({ argv: process.argv.slice(2), stdin: process.stdin, stdout: process.stdout,',
      '    stderr: process.stderr, env: process.env }).then((code) => { process.exitCode = code; });',
      '});',
    ].join('\n'),
  );
  const bundle = join(dir, 'hook-snapshot.cjs');
  await build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node18.19',
    format: 'cjs',
    // import() of a node: module would need an ES module loader the snapshot does not have.
    supported: { 'dynamic-import': false },
    define: {
      'import.meta.url': JSON.stringify(`file://${repo}/dist/hook.mjs`),
      VIRT_CONSOLELOG_VERSION: '"0"',
    },
    logLevel: 'error',
  });
  const empty = join(dir, 'empty.cjs');
  writeFileSync(empty, "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {});\n");
  const blob = (src: string, name: string): string => {
    const out = join(dir, name);
    const r = spawnSync(node, ['--snapshot-blob', out, '--build-snapshot', src], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`--build-snapshot ${src}: ${r.stderr}`);
    return out;
  };
  const hookBlob = blob(bundle, 'hook.blob');
  const emptyBlob = blob(empty, 'empty.blob');

  const xml = domainXml({
    name: 'bench-typical',
    uuid: '00000001-0000-4000-8000-000000000001',
    serial: { type: 'pty' },
  });
  const ignored = ['bench-typical', 'reconnect', 'begin', '-'];
  const migrate = ['bench-typical', 'migrate', 'begin', '-'];
  const hookJs = join(repo, 'dist', 'hook.mjs');
  // The snapshot's argv[1] is the first argument: a placeholder keeps argv.slice(2) the hook's own.
  const cases: Record<string, string[]> = {
    'node -e 0': ['-e', '0'],
    'empty snapshot': ['--snapshot-blob', emptyBlob, '-'],
    'hook plain, ignored event': [hookJs, ...ignored],
    'hook snapshot, ignored event': ['--snapshot-blob', hookBlob, 'hook', ...ignored],
    'hook plain, migrate begin': [hookJs, ...migrate],
    'hook snapshot, migrate begin': ['--snapshot-blob', hookBlob, 'hook', ...migrate],
  };
  const wall = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]));
  const cpu = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]));
  const outputs = new Map<string, string>();
  const cpuFile = join(dir, 'cpu');
  for (let i = 0; i < rounds; i++) {
    for (const [name, args] of Object.entries(cases).sort(() => Math.random() - 0.5)) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(node, args, { input: xml, env });
      wall.get(name)?.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status !== 0) throw new Error(`${name}: exit ${r.status}: ${String(r.stderr)}`);
      if (i === 0) outputs.set(name, String(r.stdout));
      spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, node, ...args], { input: xml, env });
      const [u = 'NaN', s = 'NaN'] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop()?.split(' ') ?? [];
      cpu.get(name)?.push((Number(u) + Number(s)) * 1000);
    }
  }
  const same = outputs.get('hook plain, migrate begin') === outputs.get('hook snapshot, migrate begin');
  const base = summarise(wall.get('node -e 0') ?? []).median;
  const rows = Object.keys(cases).map((name) => {
    const w = summarise(wall.get(name) ?? []);
    return {
      case: name,
      wallMedianMs: w.median,
      vsNode: Math.round((w.median / base) * 100) / 100,
      cpuMedianMs: summarise(cpu.get(name) ?? []).median,
    };
  });
  const version = spawnSync(node, ['--version'], { env, encoding: 'utf8' }).stdout.trim();
  process.stdout.write(
    JSON.stringify(
      {
        node: version,
        rounds,
        load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
        blobBytes: { hook: statSync(hookBlob).size, empty: statSync(emptyBlob).size },
        bundleBytes: statSync(bundle).size,
        migrateOutputIdentical: same,
        rows,
      },
      null,
      2,
    ) + '\n',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
