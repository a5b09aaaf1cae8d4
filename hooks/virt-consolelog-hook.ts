// Entry point libvirt runs (through packaging/hook-launcher.sh.in): argv and stdin in, exit code out.
import { setFlagsFromString } from 'node:v8';
import { runHook } from '../src/lifecycle/run.js';

// A hook lives well under a second: V8's optimising compiler only burns CPU in it (BENCHMARKS.md: about
// half the CPU of a 50 KiB migrate filter). Only where --no-opt is known to exist (V8 10/11 = Node 18/20):
// V8 prints an unknown flag on stdout, which is the XML channel for migrate/restore.
if (/^1[01]\./.test(process.versions.v8)) setFlagsFromString('--no-opt');

process.exitCode = await runHook({
  argv: process.argv.slice(2),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
