// What the capture service hands to each output as it reads a guest's console: one whole line at a time.

/** One guest console line as the capture service read it. */
export interface CapturedLine {
  /** Milliseconds since the epoch when the service read the line. */
  time: number;
  /** Domain name at the time of reading (names change; uuid is the key). */
  domain: string;
  uuid: string;
  /** Device name as in the store's live file name, e.g. serial0, console1. */
  device: string;
  /** The boot id of the store's boot marker this line follows, when known. */
  boot: string | null;
  /** The line's bytes without its trailing newline; not necessarily UTF-8. */
  text: Buffer;
}

/** An output of the capture service (the host journal, ...): never throws from write. */
export interface LineSink {
  write(line: CapturedLine): void;
  /** Flushes what is buffered and releases the output. */
  close(): Promise<void>;
}
