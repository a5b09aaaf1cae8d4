// The CLI as a V8 start-up snapshot entry for `show` (BENCHMARKS.md, issue 20: on a Node without its own
// start-up snapshot, Debian's and Ubuntu's, it saves most of Node's bootstrap). Built by scripts/build.mjs
// into one CommonJS file, dist/cli-snapshot.cjs (a snapshot holds no ES modules); packaging/cli-launcher.sh.in
// runs it from the blob the hook's launcher builds beside its own.
import { closeSync, writeSync } from 'node:fs';
import { startupSnapshot } from 'node:v8';
import { pathToFileURL } from 'node:url';
import { runCli } from './main.js';
// Evaluated when the blob is built, so that `show` runs from the blob's heap instead of compiling.
import './commands/show.js';

startupSnapshot.setDeserializeMainFunction(() => {
  // Tells the launcher the CLI started: without this byte, a failed run was a blob Node could not load
  // (it crashes or exits before any JavaScript), and the launcher runs virt-consolelog.mjs instead.
  // Closed so that the pager and jobs do not inherit it.
  try {
    writeSync(3, 'S');
    closeSync(3);
  } catch {
    // Started by hand, without fd 3: nothing waits for the byte.
  }
  // import.meta.url of the bundled modules (see scripts/build.mjs): this file's own place.
  (globalThis as { __vclCliUrl?: string }).__vclCliUrl = pathToFileURL(process.argv[1] ?? '').href;
  void runCli();
});
