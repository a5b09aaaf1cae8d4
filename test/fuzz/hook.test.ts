// Hostile input into the compiled hook, spawned as libvirt spawns it (env -i, argv, XML on stdin,
// cwd /) in a private mount namespace, under strace: it never crashes, never hangs, never prints
// XML libvirt would reject, and never touches a path outside the store, state and allowed roots.
import test from 'ava';
import { patient } from '../lab/patience.js';
import { existsSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fuzzSeed, hostileCases, mutationCases, repoRoot, type FuzzCase } from './generate.js';
import { pool, recordFigures } from './record.js';
import { hasDangerousDeclarations, libvirtValid, wellFormed } from './xmlcheck.js';
import { filesMoreOpenThan, INSIDE, Sandbox, snapshotTree } from '../security/sandbox.js';
import { describe as describeAccess, parseTrace, violations, type Policy } from '../security/trace.js';

const MUTATIONS = Number(process.env.FUZZ_HOOK_MUTATIONS ?? 30);
const HOOK_TIMEOUT_MS = 20_000;
// Store events get the path and name attacks; the filter gets everything.
const STORE_EVENTS: [string, string, string][] = [
  ['prepare', 'begin', '-'],
  ['release', 'end', '-'],
  ['release', 'end', 'destroyed'],
];

test('hook: hostile XML never crashes, hangs, emits bad XML or touches paths outside the store', async (t) => {
  t.timeout(patient(240_000));
  const sb = await Sandbox.create({ prefix: 'vcl-fuzz-hook-' });
  t.teardown(() => sb.destroy());
  sb.writeConfig('host_name = "fuzzhost"\nlog_file_mode = 0640\nlock_wait_ms = 2000\n');
  // A symlink inside an allowed root pointing at the sentinel tree: following it is a violation.
  symlinkSync(sb.sentinelDir, sb.host('/var/log/libvirt/vcl-link-to-sentinel'));
  const targets = { shadow: INSIDE.shadow, sentinelDir: sb.sentinelDir };
  const before = snapshotTree(sb.sentinelDir, [sb.host(INSIDE.shadow)]);

  const seed = fuzzSeed();
  const cases: FuzzCase[] = [...hostileCases(targets), ...mutationCases(seed, MUTATIONS, targets)];
  const runs: { c: FuzzCase; event: [string, string, string] }[] = [];
  for (const c of cases) {
    runs.push({ c, event: ['migrate', 'begin', '-'] });
    if (/^(path|name|uuid)-/.test(c.name)) for (const e of STORE_EVENTS) runs.push({ c, event: e });
  }
  const policy: Policy = {
    writable: [INSIDE.store, INSIDE.liveDir, INSIDE.state, INSIDE.snapshotCache, INSIDE.hookServer],
    // The allowed roots (default config) may be read: that is where libvirt's own logs live.
    readable: [
      INSIDE.configDir,
      INSIDE.varLogLibvirt,
      INSIDE.varLibLibvirt,
      '/var/lib/nova/instances',
      path.join(repoRoot, 'dist'),
    ],
    forbidden: [
      INSIDE.shadow,
      sb.sentinelDir,
      '/tmp/vcl-pwned',
      '/proc/self/environ',
      '/dev/zero',
      '/proc/self/mem',
    ],
  };

  const failures: string[] = [];
  let emitted = 0;
  let validated = 0;
  let longest = 0;
  await pool(runs, 2, async ({ c, event }) => {
    const name = /^name-/.test(c.name) ? nameOf(c) : 'fuzz';
    const label = `${c.name} [${event.join(' ')}]`;
    const r = await sb.hook([name, ...event], { stdin: c.xml, strace: true, timeoutMs: HOOK_TIMEOUT_MS });
    longest = Math.max(longest, r.ms);
    if (r.timedOut)
      return void failures.push(`${label}: hung (killed after ${HOOK_TIMEOUT_MS} ms x patience)`);
    if (r.code !== 0)
      return void failures.push(`${label}: exit ${r.code} signal ${r.signal}: ${r.stderr.slice(0, 400)}`);
    if (
      /failed open: (?!.*(XmlRewriteError|ConfigError))[\s\S]*?at /.test(r.stderr) &&
      /TypeError|RangeError|ReferenceError|Maximum call stack/.test(r.stderr)
    )
      failures.push(`${label}: crashed inside (caught by fail-open): ${r.stderr.slice(0, 400)}`);
    const bad = violations(parseTrace(r.trace), policy);
    if (bad.length) failures.push(`${label}: touched paths outside the store:\n${describeAccess(bad)}`);
    if (event[0] !== 'migrate' && r.stdout.length)
      failures.push(`${label}: printed ${r.stdout.length} bytes on a non-filter event`);
    if (event[0] === 'migrate' && r.stdout.length) {
      emitted++;
      const out = r.stdout.toString('utf8');
      const wf = wellFormed(r.stdout);
      if (!wf.ok) return void failures.push(`${label}: emitted malformed XML: ${wf.error}`);
      if (hasDangerousDeclarations(out)) failures.push(`${label}: emitted a DOCTYPE/ENTITY declaration`);
      // libvirt only hands a filter XML it produced itself; when the input is schema-valid, the output must be too.
      if (libvirtValid(c.xml).ok) {
        validated++;
        const v = libvirtValid(r.stdout);
        if (!v.ok) failures.push(`${label}: emitted XML virt-xml-validate rejects: ${v.error}`);
      }
    }
  });

  const after = snapshotTree(sb.sentinelDir, [sb.host(INSIDE.shadow)]);
  for (const [p, v] of before) if (after.get(p) !== v) failures.push(`sentinel changed: ${p}`);
  for (const p of after.keys()) if (!before.has(p)) failures.push(`sentinel tree gained ${p}`);
  if (existsSync('/tmp/vcl-pwned'))
    failures.push('a shell metacharacter from XML was run (/tmp/vcl-pwned exists)');
  for (const f of filesMoreOpenThan(sb.host(INSIDE.store), 0o640, /\.(log|seg)(\.\d+|\.gz)?$/))
    failures.push(`log or segment more open than log_file_mode 0640: ${f}`);
  recordFigures('fuzz-hook', {
    seed,
    cases: cases.length,
    hookRuns: runs.length,
    emitted,
    validated,
    longestMs: longest,
    failures: failures.length,
  });
  t.log(
    `seed ${seed}: ${cases.length} cases, ${runs.length} hook runs, ${emitted} emitted XML (${validated} schema-checked), longest ${longest} ms`,
  );
  t.deepEqual(failures, [], failures.slice(0, 15).join('\n\n'));
});

/** Domain name argv libvirt would pass for the name-* cases (the <name> element, unescaped). */
function nameOf(c: FuzzCase): string {
  const m = /<name>([\s\S]*?)<\/name>/.exec(c.xml.toString());
  return (m?.[1] ?? 'fuzz').replace(/&lt;/g, '<').replace(/&amp;/g, '&') || '-';
}
