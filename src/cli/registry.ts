// Every CLI command, in the order `virt-consolelog --help` lists them.
import type { Command } from './command.js';
import { rewriteCommand } from './commands/rewrite.js';
import { keysCommand } from './commands/keys.js';
import { serveExportCommand } from './commands/serve-export.js';
import { syncCommand } from './commands/sync.js';

export const COMMANDS: readonly Command[] = [rewriteCommand, syncCommand, serveExportCommand, keysCommand];
