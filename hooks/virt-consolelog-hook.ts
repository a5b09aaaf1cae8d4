// Entry point libvirt runs (through packaging/hook-launcher.sh.in): argv and stdin in, exit code out.
import { runHook } from '../src/lifecycle/run.js';

process.exitCode = await runHook({
  argv: process.argv.slice(2),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
