// The hook as a V8 start-up snapshot entry (BENCHMARKS.md, issue 20: on Debian 12's Node it saves about a
// quarter of a hook run's time and CPU). Built by scripts/build.mjs into one CommonJS file, dist/hook-snapshot.cjs (a
// snapshot holds no ES modules); packaging/hook-launcher.sh.in builds the blob per Node binary and runs it.
import { closeSync, writeSync } from 'node:fs';
import { startupSnapshot } from 'node:v8';
import { pathToFileURL } from 'node:url';
import { runHook } from '../src/lifecycle/run.js';
// Evaluated when the blob is built, so that they are in its heap rather than compiled on every run.
import '../src/lifecycle/filter.js';
import '../src/lifecycle/prepare.js';
import '../src/lifecycle/stop.js';

startupSnapshot.setDeserializeMainFunction(() => {
  // Tells the launcher the hook started (before stdin is read): without this byte, a failed run was a
  // blob Node could not load, and the launcher runs hook.mjs instead. Closed so that no job inherits it.
  try {
    writeSync(3, 'S');
    closeSync(3);
  } catch {
    // Started by hand, without fd 3: nothing waits for the byte.
  }
  // import.meta.url of the bundled modules (see scripts/build.mjs): this file's own place.
  (globalThis as { __vclHookUrl?: string }).__vclHookUrl = pathToFileURL(process.argv[1] ?? '').href;
  void runHook({
    argv: process.argv.slice(2),
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  }).then((code) => {
    process.exitCode = code;
  });
});
