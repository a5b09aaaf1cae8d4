// The CLI's `show` in one CommonJS file, dist/cli-snapshot.cjs (scripts/build.mjs; a snapshot holds no ES
// modules, and the other commands are left out). packaging/cli-launcher.sh.in runs `show` from a V8
// start-up snapshot of it where the hook's launcher built one (a Node without its own start-up snapshot,
// Debian's and Ubuntu's: 0.71-0.73x of the plain CLI), else this file directly (0.89x on Node 20): one
// file compiled instead of the ES module CLI's entry and chunks, which Node links one by one
// (BENCHMARKS.md, issue 20).
import { bundleStarted, snapshotMainStarted } from '../util/snapshot-main.js';
import { runCli } from './main.js';
// Evaluated when the blob is built, so that `show` runs from the blob's heap instead of compiling.
import './commands/show.js';

// node:v8 takes ms to load: asked for only when Node builds the blob (it runs this with --build-snapshot).
if (process.execArgv.includes('--build-snapshot')) {
  // This file is bundled as CommonJS (scripts/build.mjs), where require is Node's own.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startupSnapshot } = require('node:v8') as typeof import('node:v8');
  startupSnapshot.setDeserializeMainFunction(() => {
    snapshotMainStarted('__vclCliUrl');
    void runCli();
  });
} else {
  bundleStarted('__vclCliUrl');
  void runCli();
}
