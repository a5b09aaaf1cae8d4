// How this host runs a peer's export command: over ssh with the dedicated key, or through a
// configured argv prefix (transport "command": labs and hosts that share no network).
import { dirname } from 'node:path';
import { execa } from 'execa';
import type { Config } from '../config/schema.js';

/** Peer names become ssh targets or argv elements: a name or an address, never an option. */
const PEER_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/;
/** Upper bound on a listing's size (JSON text); a bigger answer is refused, not buffered. */
export const MAX_LISTING_BYTES = 16 * 1024 * 1024;

export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    message: string,
    /** True when the peer could not be reached at all (ssh exit 255, spawn failure, timeout). */
    readonly unreachable: boolean,
  ) {
    super(message);
  }
}

export function isPeerName(s: string): boolean {
  return PEER_RE.test(s) && !s.includes('..');
}

/** The full argv (program first) that runs `serve-export WORDS...` on `peer`. */
export function peerArgv(config: Config, peer: string, words: readonly string[]): string[] {
  if (!isPeerName(peer)) throw new TransportError(`bad peer name ${JSON.stringify(peer)}`, true);
  if (config.transport === 'command') {
    if (config.transportCommand.length === 0)
      throw new TransportError('transport = "command" but transport_command is empty', true);
    return [...config.transportCommand.map((a) => a.replaceAll('{host}', peer)), ...words];
  }
  const connectTimeout = Math.max(1, Math.min(30, config.transferTimeoutSeconds));
  return [
    'ssh',
    '-i',
    config.sshKey,
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=accept-new',
    // The dedicated key keeps its own known_hosts: root's own ssh files stay untouched.
    '-o',
    `UserKnownHostsFile=${dirname(config.sshKey)}/known_hosts`,
    '-o',
    `ConnectTimeout=${connectTimeout}`,
    '-o',
    'ServerAliveInterval=10',
    '-o',
    'ServerAliveCountMax=3',
    '-o',
    'LogLevel=ERROR',
    '-l',
    config.sshUser,
    '--',
    peer,
    // The forced command on the peer ignores these words as argv; sshd hands them over in
    // SSH_ORIGINAL_COMMAND, joined by spaces (the protocol's words never hold one).
    ...words,
  ];
}

interface CallOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

function failure(words: readonly string[], e: unknown): TransportError {
  const r = e as {
    exitCode?: number;
    timedOut?: boolean;
    stderr?: unknown;
    shortMessage?: string;
    code?: string;
    isMaxBuffer?: boolean;
  };
  // Callers name the peer; the message says which request failed and how.
  const what = words[0] ?? 'request';
  if (r.timedOut) return new TransportError(`${what}: timed out`, true);
  if (r.isMaxBuffer)
    return new TransportError(`${what}: answer larger than ${MAX_LISTING_BYTES} bytes`, false);
  const stderr = typeof r.stderr === 'string' ? r.stderr.trim().split('\n').slice(-3).join(' / ') : '';
  if (r.exitCode === undefined)
    return new TransportError(
      `${what}: cannot run transport: ${r.code ?? r.shortMessage ?? String(e)}`,
      true,
    );
  // ssh reports its own failures (connection, authentication) as 255.
  return new TransportError(`${what}: exit ${r.exitCode}${stderr ? `: ${stderr}` : ''}`, r.exitCode === 255);
}

/** Runs a request whose answer is small text (the listing). */
export async function callPeerText(
  config: Config,
  peer: string,
  words: readonly string[],
  opts: CallOptions,
): Promise<string> {
  const [file, ...args] = peerArgv(config, peer, words);
  try {
    const r = await execa(file as string, args, {
      stdin: 'ignore',
      encoding: 'utf8',
      maxBuffer: MAX_LISTING_BYTES,
      timeout: opts.timeoutMs,
      env: opts.env,
      extendEnv: opts.env === undefined,
      stripFinalNewline: false,
    });
    return r.stdout;
  } catch (e) {
    throw failure(words, e);
  }
}

/** Runs a request whose answer (bytes) is appended to `file`: what arrived stays there on failure. */
export async function callPeerToFile(
  config: Config,
  peer: string,
  words: readonly string[],
  file: string,
  opts: CallOptions,
): Promise<void> {
  const [program, ...args] = peerArgv(config, peer, words);
  try {
    await execa(program as string, args, {
      stdin: 'ignore',
      stdout: { file, append: true },
      encoding: 'buffer',
      timeout: opts.timeoutMs,
      env: opts.env,
      extendEnv: opts.env === undefined,
    });
  } catch (e) {
    throw failure(words, e);
  }
}
