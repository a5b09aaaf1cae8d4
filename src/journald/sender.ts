// Sends native-protocol entries to journald's datagram socket. Node has no unix datagram sockets
// (`dgram` is UDP only, `net` is streams only), so one small perl process (perl-base: Socket is part of
// it) reads length-prefixed entries on its stdin and sends each as one datagram (docs/JOURNAL.md).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

export const JOURNAL_SOCKET = '/run/systemd/journal/socket';
/** Bytes waiting for the helper beyond which entries are dropped (journald far behind): memory stays bounded. */
export const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

// Blocking sends: a busy journald slows the helper, whose stdin then fills (the backlog above).
// An error is printed once until the next success, so a stopped journald costs one line, not one per entry.
const HELPER = `use strict; use Socket;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\\n";
setsockopt($s, SOL_SOCKET, SO_SNDBUF, 8388608);
my $addr = pack_sockaddr_un($ARGV[0]); my $err = '';
binmode STDIN; $| = 1; select((select(STDERR), $| = 1)[0]);
while (read(STDIN, my $h, 4) == 4) {
  my $n = unpack('N', $h);
  read(STDIN, my $e, $n) == $n or last;
  if (send($s, $e, 0, $addr)) { if ($err ne '') { print STDERR "OK\\n"; $err = ''; } }
  elsif ("$!" ne $err) { $err = "$!"; print STDERR "E $err\\n"; }
}`;

export interface Sender {
  /** False when the entry was dropped: no journald, or the helper is too far behind. */
  send(framed: Buffer): boolean;
  /** Why entries do not reach journald now, or null. */
  problem(): string | null;
  /** Waits until the helper has sent what it was given, then ends it. */
  close(): Promise<void>;
}

export interface SenderOptions {
  socketPath?: string;
  perl?: string;
  /** Called when a problem starts (each distinct one once) and when it is over (null). */
  onProblem(problem: string | null): void;
}

export function startSender(o: SenderOptions): Sender {
  const socketPath = o.socketPath ?? JOURNAL_SOCKET;
  let problem: string | null = null;
  const setProblem = (p: string | null) => {
    if (p === problem) return;
    problem = p;
    o.onProblem(p);
  };
  let isSocket = false;
  try {
    isSocket = fs.statSync(socketPath).isSocket();
  } catch {
    // Not there: no journald on this host (or not in this mount namespace).
  }
  if (!isSocket) {
    setProblem(`no systemd-journald on this host (${socketPath} is not a socket)`);
    return { send: () => false, problem: () => problem, close: async () => {} };
  }
  const child = spawn(o.perl ?? 'perl', ['-e', HELPER, socketPath], { stdio: ['pipe', 'ignore', 'pipe'] });
  let exited = false;
  const done = new Promise<void>((resolve) => {
    child.once('error', (e) => {
      exited = true;
      setProblem(`cannot run the journald sender (perl): ${e.message}`);
      resolve();
    });
    child.once('close', (code, signal) => {
      if (!exited && (code !== 0 || signal))
        setProblem(`the journald sender (perl) ended: ${signal ?? `exit ${code}`}`);
      exited = true;
      resolve();
    });
  });
  child.stdin.on('error', () => {
    // EPIPE after the helper died: reported by 'close' above.
  });
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const l = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (l === 'OK') setProblem(null);
      else if (l.startsWith('E ')) setProblem(`journald refuses entries: ${l.slice(2)}`);
      else if (l) setProblem(`the journald sender (perl): ${l}`);
    }
  });
  return {
    send(framed) {
      if (exited || child.stdin.writableLength > MAX_BACKLOG_BYTES) return false;
      child.stdin.write(framed);
      return true;
    },
    problem: () => problem,
    async close() {
      if (!exited) child.stdin.end();
      await done;
    },
  };
}
