// The capture service's event threads. An event's store work is synchronous (locks, seals, fsyncs of
// atomic writes) and blocks the thread it runs on: in a boot storm, on the service's own thread, each
// event would wait for every fsync of the others, and capture with them. Each thread keeps its
// compiled hook code, so an event still starts nothing.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EventRequest, EventResult } from './event.js';

/** Threads at most: enough for events to wait on the disk side by side, few enough to cost little memory. */
export const MAX_EVENT_THREADS = 4;

type Reply = { id: number; result?: EventResult; error?: string };

interface Thread {
  worker: Worker;
  running: Map<number, { resolve: (r: EventResult) => void; reject: (e: Error) => void }>;
}

/**
 * The built worker entry beside this module's bundle (dist/ or /usr/lib/virt-consolelog/, or their
 * chunks/), else the checkout's dist/ (tests run the sources); undefined when there is none.
 */
export function workerBundle(moduleUrl = import.meta.url): string | undefined {
  const here = dirname(fileURLToPath(moduleUrl));
  return [here, join(here, '..'), join(here, '../../dist')]
    .map((dir) => join(dir, 'hook-worker.mjs'))
    .find((p) => existsSync(p));
}

export class EventThreads {
  private readonly threads: Thread[] = [];
  private nextId = 1;

  constructor(
    private readonly file: string,
    private readonly log: (message: string) => void,
    private readonly max = MAX_EVENT_THREADS,
  ) {}

  /** Runs the event on the least busy thread; a new thread only while every one has an event. */
  run(request: EventRequest): Promise<EventResult> {
    let thread = this.threads.reduce<Thread | undefined>(
      (best, t) => (!best || t.running.size < best.running.size ? t : best),
      undefined,
    );
    if (!thread || (thread.running.size > 0 && this.threads.length < this.max)) thread = this.spawn();
    const id = this.nextId++;
    const t = thread;
    return new Promise<EventResult>((resolve, reject) => {
      t.running.set(id, { resolve, reject });
      // Busy threads keep the process up until their events end; idle ones must not keep it.
      t.worker.ref();
      t.worker.postMessage({ id, request });
    });
  }

  /** Threads started and alive (status and tests). */
  get size(): number {
    return this.threads.length;
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private spawn(): Thread {
    const worker = new Worker(this.file);
    const thread: Thread = { worker, running: new Map() };
    worker.on('message', (m: Reply) => {
      const r = thread.running.get(m.id);
      if (!r) return;
      thread.running.delete(m.id);
      if (!thread.running.size) worker.unref();
      if (m.result) r.resolve(m.result);
      else r.reject(new Error(m.error ?? 'no result'));
    });
    // A thread that failed loses its events: their launchers run them with Node.
    const gone = (why: string) => {
      const i = this.threads.indexOf(thread);
      if (i >= 0) this.threads.splice(i, 1);
      if (thread.running.size)
        this.log(`hook event thread ended (${why}): ${thread.running.size} event(s) go to Node`);
      for (const r of thread.running.values()) r.reject(new Error(`event thread ended: ${why}`));
      thread.running.clear();
    };
    worker.on('error', (e) => gone(e.message));
    worker.on('exit', (code) => gone(`exit code ${code}`));
    this.threads.push(thread);
    return thread;
  }
}
