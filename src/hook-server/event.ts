// One hook event run inside the capture service: runHook on the XML the launcher saved, stdout and
// stderr kept for the launcher to print. Shared by the service's worker threads and its own thread.
import * as fs from 'node:fs';
import { Writable } from 'node:stream';
import { runHook, type HookIO } from '../lifecycle/run.js';

/** What the launcher handed over: its argv, its environment, the file holding the domain XML. */
export interface EventRequest {
  argv: string[];
  env: NodeJS.ProcessEnv;
  stdinFile: string;
}

export interface EventResult {
  code: number;
  out: Uint8Array;
  err: Uint8Array;
}

export async function runEvent(
  req: EventRequest,
  run: (io: HookIO) => Promise<number> = runHook,
): Promise<EventResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const fd = fs.openSync(req.stdinFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  const stdin = fs.createReadStream('', { fd });
  try {
    const code = await run({
      argv: req.argv,
      stdin,
      stdout: collector(out),
      stderr: collector(err),
      env: req.env,
      resident: true,
    });
    return { code, out: Buffer.concat(out), err: Buffer.concat(err) };
  } finally {
    stdin.destroy();
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
