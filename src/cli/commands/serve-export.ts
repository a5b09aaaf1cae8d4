// virt-consolelog serve-export: the read-only export a peer's fetch runs, normally as the forced
// command of the dedicated key's authorized_keys entry (request in SSH_ORIGINAL_COMMAND).
import type { Writable } from 'node:stream';
import { EXIT, type Command } from '../command.js';
import { UnsafePathError } from '../../store/safe-fs.js';
import { ExportNotFound, serveExport } from '../../transfer/export.js';
import { ProtocolError, parseRequest, splitRequestLine } from '../../transfer/protocol.js';

export const serveExportCommand: Command = {
  usage: [
    'usage: virt-consolelog serve-export [REQUEST]',
    '',
    "Answers one request of a peer fetching a domain's history. The request comes from the",
    'arguments, or (as the forced command of the transfer key) from SSH_ORIGINAL_COMMAND:',
    "  list UUID                       JSON listing: sealed segments + this host's live file sizes",
    '  get UUID KEY OFFSET             plain bytes of a sealed segment from OFFSET',
    "  live UUID HOST DEVICE OFFSET    bytes of this host's live file of DEVICE from OFFSET (HOST = this host)",
    "  times UUID KEY                  JSON arrival times of a sealed segment's lines",
    'Anything else (other verbs, extra arguments, path tricks) is refused with exit 2; a domain,',
    'segment or file that does not exist gives exit 3. Only the store and live_dir are ever read.',
    '',
    'authorized_keys entry on each peer (see `virt-consolelog keys`):',
    '  restrict,command="/usr/bin/virt-consolelog serve-export" ssh-ed25519 AAAA... virt-consolelog@HOST',
  ].join('\n'),
  options: {},
  // A peer's request words: a word that looks like an option is refused by the protocol, not parsed.
  rawArgs: true,
  async run(args, ctx) {
    const { io } = ctx;
    let words: string[];
    try {
      if (args.positionals.length > 0) words = args.positionals;
      else if (io.env.SSH_ORIGINAL_COMMAND !== undefined)
        words = splitRequestLine(io.env.SSH_ORIGINAL_COMMAND);
      else throw new ProtocolError('no request (give one as arguments, or via SSH_ORIGINAL_COMMAND)');
      const request = parseRequest(words);
      const { config } = ctx.config();
      await serveExport(config, request, io.stdout as Writable);
      return EXIT.ok;
    } catch (e) {
      const err = e as Error;
      if (e instanceof ProtocolError || e instanceof UnsafePathError) {
        io.stderr.write(`virt-consolelog serve-export: refused: ${err.message}\n`);
        return EXIT.usage;
      }
      if (e instanceof ExportNotFound) {
        io.stderr.write(`virt-consolelog serve-export: not found: ${err.message}\n`);
        return EXIT.notFound;
      }
      io.stderr.write(`virt-consolelog serve-export: ${err.message}\n`);
      return EXIT.failure;
    }
  },
};
