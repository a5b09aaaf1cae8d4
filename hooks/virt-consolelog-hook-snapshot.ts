// The hook as a V8 start-up snapshot entry (BENCHMARKS.md, issue 20: on Debian 12's Node it saves about a
// quarter of a hook run's time and CPU). Built by scripts/build.mjs into one CommonJS file, dist/hook-snapshot.cjs (a
// snapshot holds no ES modules); packaging/hook-launcher.sh.in builds the blob per Node binary and runs it.
import { startupSnapshot } from 'node:v8';
import { runHook } from '../src/lifecycle/run.js';
import { snapshotMainStarted } from '../src/util/snapshot-main.js';
// Evaluated when the blob is built, so that they are in its heap rather than compiled on every run.
import '../src/lifecycle/filter.js';
import '../src/lifecycle/prepare.js';
import '../src/lifecycle/stop.js';

startupSnapshot.setDeserializeMainFunction(() => {
  snapshotMainStarted('__vclHookUrl');
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
