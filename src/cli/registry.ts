// Every CLI command, in the order `virt-consolelog --help` lists them.
import type { Command } from './command.js';
import { rewriteCommand } from './commands/rewrite.js';
import { enableCommand } from './commands/enable.js';
import { disableCommand } from './commands/disable.js';
import { autoEnableCommand } from './commands/auto-enable.js';
import { keysCommand } from './commands/keys.js';
import { doctorCommand } from './commands/doctor.js';
import { serveExportCommand } from './commands/serve-export.js';
import { syncCommand } from './commands/sync.js';
import { showCommand } from './commands/show.js';
import { statusCommand } from './commands/status.js';
import { pruneCommand } from './commands/prune.js';

export const COMMANDS: readonly Command[] = [
  rewriteCommand,
  showCommand,
  statusCommand,
  pruneCommand,
  enableCommand,
  disableCommand,
  syncCommand,
  serveExportCommand,
  keysCommand,
  doctorCommand,
  autoEnableCommand,
];
