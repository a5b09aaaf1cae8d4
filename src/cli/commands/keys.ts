// virt-consolelog keys: the dedicated transfer key's authorized_keys line for the peers (forced
// read-only export command + restrict), and its creation when the package could not make it.
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { EXIT, UsageError, type Command } from '../command.js';
import { expectPositionals, flagOpt, stringOpt } from '../options.js';

/** What sshd runs for this key, whatever the client asks: the export command, nothing else. */
export const DEFAULT_FORCED_COMMAND = '/usr/bin/virt-consolelog serve-export';

/** The authorized_keys line (pure). `from` restricts the source addresses (sshd's from= pattern list). */
export function authorizedKeysLine(publicKey: string, forcedCommand: string, from?: string): string {
  const key = publicKey.trim();
  if (!/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+( [^\n]*)?$/.test(key))
    throw new Error('not an OpenSSH public key');
  if (/["\\\n]/.test(forcedCommand))
    throw new UsageError('the forced command may not hold quotes, backslashes or newlines');
  if (from !== undefined && !/^[A-Za-z0-9.*?:/,!_-]+$/.test(from))
    throw new UsageError(`bad --from pattern ${JSON.stringify(from)}`);
  const opts = ['restrict', ...(from ? [`from="${from}"`] : []), `command="${forcedCommand}"`];
  return `${opts.join(',')} ${key}`;
}

export const keysCommand: Command = {
  usage: [
    'usage: virt-consolelog keys [--generate] [--from PATTERNS] [--command "FORCED COMMAND"]',
    '',
    'Prints the line to add to ~USER/.ssh/authorized_keys on every peer (USER = ssh_user), so that the',
    'dedicated key (ssh_key) can run the read-only export and nothing else:',
    `  restrict,command="${DEFAULT_FORCED_COMMAND}" ssh-ed25519 AAAA... virt-consolelog@HOST`,
    '  --generate        create the key (ed25519, no passphrase) if it does not exist',
    '  --from PATTERNS   add from="PATTERNS" (sshd address patterns) to the line',
    `  --command CMD     the forced command (default: ${DEFAULT_FORCED_COMMAND})`,
  ].join('\n'),
  options: { generate: { type: 'boolean' }, from: { type: 'string' }, command: { type: 'string' } },
  async run(args, ctx) {
    expectPositionals(args, 0, 0, '');
    const generate = flagOpt(args, 'generate');
    const from = stringOpt(args, 'from');
    const command = stringOpt(args, 'command') ?? DEFAULT_FORCED_COMMAND;
    if (!command) throw new UsageError('--command needs a value');
    const { config } = ctx.config();
    const pub = `${config.sshKey}.pub`;
    if (!fs.existsSync(config.sshKey)) {
      if (!generate) {
        ctx.io.stderr.write(
          `virt-consolelog keys: no transfer key at ${config.sshKey} (run with --generate)\n`,
        );
        return EXIT.notFound;
      }
      fs.mkdirSync(dirname(config.sshKey), { recursive: true, mode: 0o700 });
      await execa(
        'ssh-keygen',
        ['-q', '-t', 'ed25519', '-N', '', '-C', `virt-consolelog@${config.hostName}`, '-f', config.sshKey],
        {
          stdin: 'ignore',
        },
      );
    }
    const text = fs.readFileSync(pub, 'utf8');
    ctx.io.stdout.write(authorizedKeysLine(text, command, from) + '\n');
    return EXIT.ok;
  },
};
