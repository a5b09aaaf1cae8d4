// Entry point libvirt runs (through packaging/hook-launcher.sh.in): argv and stdin in, exit code out.
// Nearly every handled event takes the domain lock: its library loads with the bundle, in parallel,
// rather than on first use (src/store/lock.ts loads it lazily, so that `show` does not load it).
import 'proper-lockfile';
import { runHook } from '../src/lifecycle/run.js';

process.exitCode = await runHook({
  argv: process.argv.slice(2),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
