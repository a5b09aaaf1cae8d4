// Every CLI command, in the order `virt-consolelog --help` lists them.
import type { Command } from './command.js';
import { rewriteCommand } from './commands/rewrite.js';

export const COMMANDS: readonly Command[] = [rewriteCommand];
