// The capture service answers the hook's events in-process, so that an event starts no Node
// (BENCHMARKS.md, issue 20: a Node start per event is most of a hook run and of a boot storm's cost).
// The launcher stays the hook libvirt runs and falls back to starting Node whenever this service is
// not there or does not take an event in time (packaging/hook-launcher.sh.in); docs/HOOK-SERVICE.md.
import * as fs from 'node:fs';
import { Socket } from 'node:net';
import { posix } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Writable } from 'node:stream';
import { execa } from 'execa';
import { pidAlive } from '../util/pid.js';
import { runHook, type HookIO } from '../lifecycle/run.js';
import {
  CLIENT_FDS,
  parseEnv,
  parseRequestLine,
  REQUESTS_FIFO,
  requestFiles,
  SERVER_PID_FILE,
  splitNul,
} from './request.js';

const C = fs.constants;
/** How long the service tries to open a launcher's reply FIFO: the launcher opens it right after asking. */
const REPLY_OPEN_MS = 10_000;
/** Events run at once; more wait (taken, so the launcher waits too) rather than crowd the process. */
const MAX_RUNNING = 8;
/** Largest argv or env file read from a request (libvirt's hook argv and environment are small). */
const MAX_REQUEST_FILE = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface HookServerOptions {
  dir: string;
  log: (message: string) => void;
  /** The event's work; runHook unless a test needs another. */
  run?: (io: HookIO) => Promise<number>;
}

/** One of the launcher's standard streams, opened again through /proc (a new open file description). */
interface ClientStream {
  fd: number;
  fifo: boolean;
}

export class HookServer {
  private readonly requests: Socket;
  private readonly inFlight = new Set<Promise<void>>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private closed = false;
  /** Events this service ran (status and tests). */
  answered = 0;

  private constructor(
    private readonly opts: HookServerOptions,
    fd: number,
  ) {
    this.requests = new Socket({ fd, readable: true, writable: false });
    this.requests.on('error', (e) => opts.log(`hook requests FIFO: ${e.message}`));
    const lines = createInterface({ input: this.requests, crlfDelay: Infinity });
    lines.on('line', (line) => this.accept(line));
  }

  /**
   * Listens in `opts.dir` (made 0700 if missing): undefined, with the reason logged, when the folder
   * is not a private one of this user or another live process already answers there.
   */
  static async start(opts: HookServerOptions): Promise<HookServer | undefined> {
    const { dir, log } = opts;
    try {
      fs.mkdirSync(posix.dirname(dir), { recursive: true, mode: 0o700 });
      try {
        fs.mkdirSync(dir, { mode: 0o700 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) {
        log(`hook events not answered: ${dir} is not a folder of this user with mode 0700`);
        return undefined;
      }
      const other = readPid(posix.join(dir, SERVER_PID_FILE));
      if (other !== undefined && other !== process.pid && pidAlive(other)) {
        log(`hook events not answered here: process ${other} answers them in ${dir}`);
        return undefined;
      }
      // What an earlier service left (its FIFO, requests of launchers long gone) goes.
      for (const name of fs.readdirSync(dir)) fs.rmSync(posix.join(dir, name), { force: true });
      const fifo = posix.join(dir, REQUESTS_FIFO);
      await execa('mkfifo', ['-m', '600', '--', fifo]);
      // Read-write: the FIFO never reports end-of-file between two launchers' writes.
      const fd = fs.openSync(fifo, C.O_RDWR | C.O_NONBLOCK | C.O_NOFOLLOW);
      const server = new HookServer(opts, fd);
      writePid(dir);
      log(`answering hook events in ${dir}`);
      return server;
    } catch (e) {
      log(`hook events not answered: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Takes no more requests (launchers start Node again), lets the running events end, removes the FIFO. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { dir } = this.opts;
    for (const name of [SERVER_PID_FILE, REQUESTS_FIFO]) fs.rmSync(posix.join(dir, name), { force: true });
    this.requests.destroy();
    await Promise.allSettled([...this.inFlight]);
  }

  private accept(line: string): void {
    const pid = parseRequestLine(line.trim());
    if (pid === undefined) {
      this.opts.log(
        `hook requests FIFO: ignored a line that is not a pid (${JSON.stringify(line.slice(0, 40))})`,
      );
      return;
    }
    const p = this.answer(pid)
      .catch((e: Error) => this.opts.log(`hook event of launcher ${pid}: ${e.message}`))
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /**
   * Opens the launcher's reply FIFO, its streams and request files, then claims the event (rename of
   * PID.claim). Until the claim nothing of the event is read: a launcher told nothing, or whose watchdog
   * claimed first, starts Node with its stdin untouched. After the claim the launcher waits for the
   * exit code however long the event takes.
   */
  private async answer(pid: number): Promise<void> {
    const files = requestFiles(this.opts.dir, pid);
    const opened: number[] = [];
    let reply: Socket | undefined;
    try {
      reply = new Socket({ fd: await openReply(files.reply), readable: false, writable: true });
      reply.on('error', () => undefined); // the launcher gone: nothing to tell
      const stdin = openClientStream(pid, CLIENT_FDS.stdin, C.O_RDONLY);
      opened.push(stdin.fd);
      const stdout = openClientStream(pid, CLIENT_FDS.stdout, C.O_WRONLY | C.O_APPEND | C.O_NOCTTY);
      opened.push(stdout.fd);
      const stderr = openClientStream(pid, CLIENT_FDS.stderr, C.O_WRONLY | C.O_APPEND | C.O_NOCTTY);
      opened.push(stderr.fd);
      const argv = splitNul(readRequestFile(files.argv));
      const env = parseEnv(readRequestFile(files.env));
      try {
        fs.renameSync(files.claim, files.taken);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // its watchdog took it: Node runs it
        throw e;
      }
      opened.length = 0; // from here each stream is closed by runEvent
      const code = await this.limited(() => this.runEvent(argv, env, stdin, stdout, stderr));
      await endSocket(reply, `${code}\n`);
      this.answered++;
    } finally {
      for (const fd of opened) closeQuietly(fd);
      reply?.destroy();
      for (const f of [files.argv, files.env, files.taken, files.reply]) fs.rmSync(f, { force: true });
    }
  }

  private async runEvent(
    argv: string[],
    env: NodeJS.ProcessEnv,
    stdin: ClientStream,
    stdout: ClientStream,
    stderr: ClientStream,
  ): Promise<number> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const input = stdin.fifo
      ? new Socket({ fd: stdin.fd, readable: true, writable: false })
      : Readable.from([readAndClose(stdin.fd)]);
    input.on('error', () => undefined); // runHook reads to the end or reports the error itself
    let code = 0;
    try {
      code = await (this.opts.run ?? runHook)({
        argv,
        stdin: input,
        stdout: collector(out),
        stderr: collector(err),
        env,
        resident: true,
      });
    } finally {
      input.destroy();
      // libvirt reads the hook's stdout and stderr to their end: every copy of them is closed here.
      await writeAndClose(stderr, Buffer.concat(err));
      await writeAndClose(stdout, Buffer.concat(out));
    }
    return code;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= MAX_RUNNING) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

function readPid(path: string): number | undefined {
  try {
    return parseRequestLine(fs.readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The pid file the launcher checks with `kill -0` before it asks (temp + rename: never half). */
function writePid(dir: string): void {
  const tmp = posix.join(dir, `.${SERVER_PID_FILE}.tmp`);
  fs.writeFileSync(tmp, `${process.pid}\n`, { mode: 0o600, flag: 'w' });
  fs.renameSync(tmp, posix.join(dir, SERVER_PID_FILE));
}

/**
 * The launcher's fd, opened through /proc: pipes (what libvirt gives a hook) are read and written
 * without blocking the process; a regular file or a character device (/dev/null, a terminal) directly.
 * Anything else (a socket cannot be opened this way) leaves the event to the launcher's own Node.
 */
function openClientStream(pid: number, fd: number, flags: number): ClientStream {
  const path = `/proc/${pid}/fd/${fd}`;
  const st = fs.statSync(path);
  const fifo = st.isFIFO();
  if (!fifo && !st.isFile() && !st.isCharacterDevice())
    throw new Error(`launcher ${pid}: fd ${fd} is neither a pipe, a file nor a device`);
  return { fd: fs.openSync(path, flags | (fifo ? C.O_NONBLOCK : 0)), fifo };
}

async function openReply(path: string): Promise<number> {
  const deadline = Date.now() + REPLY_OPEN_MS;
  for (;;) {
    try {
      const fd = fs.openSync(path, C.O_WRONLY | C.O_NONBLOCK | C.O_NOFOLLOW);
      if (fs.fstatSync(fd).isFIFO()) return fd;
      fs.closeSync(fd);
      throw new Error(`${path} is not a FIFO`);
    } catch (e) {
      // ENXIO: the launcher has not opened its end yet (it asks first, then waits on it).
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) throw e;
    }
    await sleep(2);
  }
}

function readRequestFile(path: string): Buffer {
  const fd = fs.openSync(path, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_REQUEST_FILE) throw new Error(`${path} is not a small regular file`);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readAndClose(fd: number): Buffer {
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function collector(chunks: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      done();
    },
  });
}

async function writeAndClose(stream: ClientStream, data: Buffer): Promise<void> {
  if (!stream.fifo) {
    try {
      if (data.length) fs.writeSync(stream.fd, data);
    } finally {
      fs.closeSync(stream.fd);
    }
    return;
  }
  const socket = new Socket({ fd: stream.fd, readable: false, writable: true });
  socket.on('error', () => undefined); // libvirt stopped reading: nothing more to do for it
  await endSocket(socket, data);
}

function endSocket(socket: Socket, data: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.end(data);
  });
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}
