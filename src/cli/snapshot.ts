// The CLI as a V8 start-up snapshot entry for `show` (BENCHMARKS.md, issue 20: on a Node without its own
// start-up snapshot, Debian's and Ubuntu's, `show -c`/`-n` take 0.85x of a plain start). Built by scripts/build.mjs
// into one CommonJS file, dist/cli-snapshot.cjs (a snapshot holds no ES modules); packaging/cli-launcher.sh.in
// runs it from the blob the hook's launcher builds beside its own.
import { startupSnapshot } from 'node:v8';
import { snapshotMainStarted } from '../util/snapshot-main.js';
import { runCli } from './main.js';
// Evaluated when the blob is built, so that `show` runs from the blob's heap instead of compiling.
import './commands/show.js';

startupSnapshot.setDeserializeMainFunction(() => {
  snapshotMainStarted('__vclCliUrl');
  void runCli();
});
