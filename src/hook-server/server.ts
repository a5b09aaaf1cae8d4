// The capture service answers the hook's events in-process, so that an event starts no Node
// (BENCHMARKS.md, issue 20: a Node start per event is most of a hook run and of a boot storm's cost),
// and the command's bounded `show` reads the same way. The launcher stays the hook libvirt runs (or
// the command) and starts Node itself whenever this service is not there, does not take a request in
// time, declines it or ends before it answers (packaging/ask-service.sh); docs/HOOK-SERVICE.md.
import * as fs from 'node:fs';
import { Socket } from 'node:net';
import { posix } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { pidAlive } from '../util/pid.js';
import { runHook, type HookIO } from '../lifecycle/run.js';
import {
  parseEnv,
  parseRequestLine,
  REQUESTS_FIFO,
  requestFiles,
  requestOwner,
  SERVER_PID_FILE,
  splitNul,
} from './request.js';

const C = fs.constants;
/** How long the service tries to open a launcher's reply FIFO: the launcher opens it right after asking. */
const REPLY_OPEN_MS = 10_000;
/**
 * Events run at once; more wait (taken, so the launcher waits too). Most of an event's time in a storm
 * is waiting (a domain lock, the disk), so the bound is high: it only keeps a burst from holding
 * hundreds of XML documents and outputs in memory at once.
 */
const MAX_RUNNING = 32;
/** Largest argv or env file read from a request (libvirt's hook argv and environment are small). */
const MAX_REQUEST_FILE = 1024 * 1024;
/** How long a stopping service lets the events it runs finish. */
const CLOSE_WAIT_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a request printed and its exit code, for the launcher to pass on. */
export interface RequestOutput {
  code: number;
  out: Buffer;
  err: Buffer;
}

/** The command's requests (`show`) this service answers; without one it declines them all. */
export interface CommandAnswerer {
  /** Why the command must run this one itself (undefined: answered here); asked before the claim. */
  declines(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined;
  /** Runs it; undefined when it turned out too big to answer (the command then runs it itself). */
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<RequestOutput | undefined>;
}

export interface HookServerOptions {
  dir: string;
  log: (message: string) => void;
  /** The event's work; runHook unless a test needs another. */
  run?: (io: HookIO) => Promise<number>;
  command?: CommandAnswerer;
}

export class HookServer {
  private readonly requests: Socket;
  private readonly inFlight = new Set<Promise<void>>();
  /** Launchers being answered: a restart can see one both in the folder and on the FIFO. */
  private readonly launchers = new Set<number>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private closed = false;
  /** Events this service ran (status and tests). */
  answered = 0;
  /** The command's requests it answered (tests). */
  commandsAnswered = 0;

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
      const pending = sweep(dir, log);
      const fifo = posix.join(dir, REQUESTS_FIFO);
      // A launcher that wrote to the old FIFO just as it went made a regular file of that name.
      fs.rmSync(fifo, { force: true });
      await execa('mkfifo', ['-m', '600', '--', fifo]);
      // Read-write: the FIFO never reports end-of-file between two launchers' writes.
      const fd = fs.openSync(fifo, C.O_RDWR | C.O_NONBLOCK | C.O_NOFOLLOW);
      const server = new HookServer(opts, fd);
      writePid(dir);
      log(`answering hook events in ${dir}`);
      // Launchers that asked the service before this one (a restart) are still waiting: answer them.
      for (const pid of pending) server.accept(String(pid));
      return server;
    } catch (e) {
      log(`hook events not answered: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** Takes no more requests (launchers start Node again), removes the FIFO, lets running events end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { dir } = this.opts;
    for (const name of [SERVER_PID_FILE, REQUESTS_FIFO]) fs.rmSync(posix.join(dir, name), { force: true });
    this.requests.destroy();
    // Bounded: an event that hangs must not keep the service from stopping (its launcher then runs
    // the event with Node).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  private accept(line: string): void {
    const pid = parseRequestLine(line.trim());
    if (pid === undefined) {
      this.opts.log(
        `hook requests FIFO: ignored a line that is not a pid (${JSON.stringify(line.slice(0, 40))})`,
      );
      return;
    }
    if (this.launchers.has(pid)) return;
    this.launchers.add(pid);
    const p = this.answer(pid)
      .catch((e: Error) => this.opts.log(`hook event of launcher ${pid}: ${e.message}`))
      .finally(() => {
        this.inFlight.delete(p);
        this.launchers.delete(pid);
      });
    this.inFlight.add(p);
  }

  /**
   * Opens the launcher's reply FIFO and reads its request, then claims it (rename of PID.stdin: a
   * launcher whose watchdog renamed it first runs Node instead). The exit code goes on the FIFO only
   * once PID.out and PID.err are written; without it the launcher runs the request with Node (an
   * event from PID.taken, which is therefore removed only after the reply). A command's request
   * this service declines is not claimed: closing the FIFO without a code sends it to Node at once.
   */
  private async answer(pid: number): Promise<void> {
    const files = requestFiles(this.opts.dir, pid);
    let reply: Socket | undefined;
    let replied = false;
    try {
      reply = new Socket({ fd: await openReply(files.reply), readable: false, writable: true });
      reply.on('error', () => undefined); // the launcher gone: nothing to tell
      const event = readRequestFileIfAny(files.argv);
      const argv = splitNul(event ?? readRequestFile(files.cli));
      const env = parseEnv(readRequestFile(files.env));
      const command = event ? undefined : this.opts.command;
      if (!event && (!command || command.declines(argv, env) !== undefined)) return;
      try {
        fs.renameSync(files.stdin, files.taken);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // its watchdog took it: Node runs it
        throw e;
      }
      // A command's read is short and bounded (CommandAnswerer.declines): it does not queue behind events.
      const result = command
        ? await command.run(argv, env)
        : await this.limited(() => this.runEvent(argv, env, files.taken));
      if (!result) return;
      writeOutput(files.out, result.out);
      writeOutput(files.err, result.err);
      await endSocket(reply, `${result.code}\n`);
      replied = true;
      if (command) this.commandsAnswered++;
      else this.answered++;
    } finally {
      reply?.destroy();
      for (const f of [files.argv, files.cli, files.env, files.reply, ...(replied ? [files.taken] : [])])
        fs.rmSync(f, { force: true });
    }
  }

  private async runEvent(argv: string[], env: NodeJS.ProcessEnv, stdinFile: string): Promise<RequestOutput> {
    const out = new OutputBuffer();
    const err = new OutputBuffer();
    const stdin = fs.createReadStream('', { fd: fs.openSync(stdinFile, C.O_RDONLY | C.O_NOFOLLOW) });
    try {
      const code = await (this.opts.run ?? runHook)({
        argv,
        stdin,
        stdout: out,
        stderr: err,
        env,
        resident: true,
      });
      return { code, out: out.data(), err: err.data() };
    } finally {
      stdin.destroy();
    }
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

/**
 * Removes what an earlier service and launchers that are gone left in the folder, and returns the
 * launchers still waiting with an event nobody took (asked the service before it restarted).
 */
function sweep(dir: string, log: (message: string) => void): number[] {
  const pending = new Set<number>();
  for (const name of fs.readdirSync(dir)) {
    const owner = requestOwner(name);
    if (owner !== undefined && pidAlive(owner)) {
      if (name.endsWith('.stdin')) pending.add(owner);
      continue;
    }
    try {
      fs.rmSync(posix.join(dir, name), { force: true });
    } catch (e) {
      log(`left ${posix.join(dir, name)} in place: ${(e as Error).message}`); // a folder: not ours
    }
  }
  return [...pending];
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

/** A request file, or undefined when there is none of that name (the other kind of request). */
function readRequestFileIfAny(path: string): Buffer | undefined {
  try {
    return readRequestFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
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

/** The event's stdout or stderr for the launcher to print; none when empty (it then forks no cat). */
function writeOutput(path: string, data: Buffer): void {
  fs.rmSync(path, { force: true }); // left by a launcher gone long ago that had the same pid
  if (!data.length) return;
  const fd = fs.openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A request's stdout or stderr kept in memory for the launcher, up to `limit` bytes: a write past it
 * fails (which ends the command's read) and `over` says so.
 */
export class OutputBuffer extends Writable {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  over = false;

  constructor(private readonly limit = Infinity) {
    super();
    this.on('error', () => undefined); // the failed write tells the writer; nothing else listens
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (e?: Error) => void): void {
    const data = Buffer.from(chunk); // a copy: a reader reuses its buffers once a write is done
    this.size += data.length;
    if (this.size > this.limit) {
      this.over = true;
      done(new Error(`output over ${this.limit} bytes`));
      return;
    }
    this.chunks.push(data);
    done();
  }

  data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function endSocket(socket: Socket, data: string): Promise<void> {
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.end(data);
  });
}
