// virt-consolelog CLI entry: global flags, then one command from the registry.
import { EXIT, type CliIO } from './command.js';
import { COMMANDS } from './registry.js';
import { runCommand, usageError } from './run-command.js';
import { isClosedPipe } from '../terminal/pipe.js';

declare const VIRT_CONSOLELOG_VERSION: string;
export const VERSION = typeof VIRT_CONSOLELOG_VERSION === 'string' ? VIRT_CONSOLELOG_VERSION : 'dev';

export function mainUsage(): string {
  const listed = COMMANDS.filter((c) => !c.hidden);
  const width = Math.max(...listed.map((c) => c.name.length));
  return [
    'usage: virt-consolelog [--config FILE] COMMAND [ARGS...]  (options go anywhere)',
    '',
    'Guest console logging for libvirt hosts.',
    '',
    'Commands:',
    ...listed.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    '  --config FILE  configuration file (default: $VIRT_CONSOLELOG_CONFIG or /etc/virt-consolelog/virt-consolelog.conf)',
    '  --help, -h     this help; COMMAND --help for a command',
    '  --version      print the version',
    '',
    'Exit codes: 0 ok, 1 failure, 2 usage or bad input, 3 not found, 4 partly done.',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  let configFlag: string | undefined;
  const args = [...argv];
  while (args.length && args[0]?.startsWith('-')) {
    const a = args.shift() as string;
    if (a === '--version') {
      io.stdout.write(`virt-consolelog ${VERSION}\n`);
      return EXIT.ok;
    } else if (a === '--help' || a === '-h') {
      io.stdout.write(mainUsage() + '\n');
      return EXIT.ok;
    } else if (a === '--config') {
      configFlag = args.shift();
      if (!configFlag) return usageError(io, '--config needs a file');
    } else if (a.startsWith('--config=')) {
      configFlag = a.slice('--config='.length);
    } else {
      return usageError(io, `unknown option ${a}`);
    }
  }
  const name = args.shift();
  if (!name) return usageError(io, 'no command given');
  if (name === 'help') {
    const target = COMMANDS.find((c) => c.name === args[0]);
    io.stdout.write((target ? (await target.load()).usage : mainUsage()) + '\n');
    return EXIT.ok;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) return usageError(io, `unknown command "${name}"`);
  return runCommand(entry.name, await entry.load(), args, io, configFlag);
}

/** This process as the CLI: its argv and stdio (the executable, src/cli/bin.ts, and its snapshot). */
export async function runCli(): Promise<void> {
  // A write into a closed pipe fails asynchronously on the stream: end quietly there too.
  for (const s of [process.stdout, process.stderr])
    s.on('error', (e) => {
      if (isClosedPipe(e)) process.exit(EXIT.ok);
      throw e;
    });
  process.exitCode = await main(process.argv.slice(2), {
    // Node builds process.stdin on first use (for a file, with fs streams: ms that `show` does not need).
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    isTTY: process.stdout.isTTY === true,
  });
}
