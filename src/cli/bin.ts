// The virt-consolelog executable (dist/virt-consolelog.mjs): the CLI on this process's argv and stdio.
import { runCli } from './main.js';

await runCli();
