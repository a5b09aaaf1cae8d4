// virt-consolelog rewrite: domain XML on stdin -> rewritten XML on stdout (filled in by issue 2).
import { EXIT, type Command } from '../command.js';

export const rewriteCommand: Command = {
  name: 'rewrite',
  summary: 'rewrite domain XML on stdin so every serial/console logs in append mode',
  usage: 'usage: virt-consolelog rewrite [--uuid UUID] < domain.xml > rewritten.xml',
  async run() {
    return EXIT.failure;
  },
};
