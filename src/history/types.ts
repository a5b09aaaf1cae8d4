// The reader's shared types: a history snapshot, its events, the options of a read, its errors.
import type { Config } from '../config/schema.js';
import type { DomainState } from '../store/domain-state.js';
import type { SafeDir } from '../store/safe-fs.js';
import type { ListedSegment } from '../store/segments.js';
import type { Boot, Piece } from './merge.js';

/** Plain content is read through one reused buffer of this size (gzip input through another). */
export const CHUNK = 256 * 1024;

export class HistoryError extends Error {
  override name = 'HistoryError';
  constructor(
    message: string,
    readonly code: 'not-found' | 'ambiguous' | 'no-boot' | 'no-device',
  ) {
    super(message);
  }
}

/** A snapshot of one device's history, with the live files held open. */
export interface History {
  uuid: string;
  name: string | undefined;
  device: string;
  devices: string[];
  state: DomainState;
  segments: ListedSegment[];
  pieces: Piece[];
  boots: Boot[];
  /** Open fds of live files, by "dev:ino". */
  fds: Map<string, number>;
  /** This host's live file of the device at snapshot time, and its size then (where -f starts). */
  followFrom?: { dev: number; ino: number; size: number };
  archive: SafeDir | undefined;
  config: Config;
  /** Sidecars read because the archive index lacked them (0 when the index is complete). */
  sidecarsRead: number;
  /** Reused read buffers: data events are views into them (see HistoryEvent). */
  buffers: { plain: Buffer; gz?: Buffer };
  /** Decoded bytes of the gzip piece a tail search just read, so printing does not decode it again. */
  decoded?: DecodedTail;
  close(): void;
}

/** Decoded bytes [from, to) of one gzip piece, kept from a tail search for the print that follows. */
export interface DecodedTail {
  piece: Piece;
  from: number;
  to: number;
  chunks: Buffer[];
}

/**
 * One event of a history read. `data` is a view into the reader's reused buffers: it is valid until
 * the next event is asked for (copy it, `Buffer.from(data)`, to keep it; a stream write must have
 * completed, its callback called, before the next).
 */
export type HistoryEvent =
  | { type: 'boot'; boot: BootInfo }
  | {
      type: 'data';
      data: Buffer;
      host: string;
      device: string;
      /** Where data[0] lies: index into History.pieces and offset in its source (issue 17: line times). */
      piece?: number;
      offset?: number;
      /** The line's time, ms since the epoch, when a timed read gives one (capture/line-times.ts). */
      time?: number;
      /** That time is not the line's own (no arrival time was recorded). */
      coarse?: boolean;
    };

export interface BootInfo {
  index: number;
  id: string;
  host: string;
  at: string;
  implicit: boolean;
}

export interface ReadOptions {
  /** Device to read (default serial0, else the first logged one). */
  device?: string;
  /** -n: the last N lines. */
  lines?: number;
  /** -c: exactly the last N raw bytes, oldest first, without separators or markers. */
  bytes?: number;
  /** -b: journalctl boot selector ('' or '0' newest, -1 previous, 1 oldest, or an id). */
  boot?: string;
  since?: Date;
  until?: Date;
  /** Keep printing what the guest writes (through rotation and new boots). */
  follow?: boolean;
  followPollMs?: number;
  signal?: AbortSignal;
  /** Called once the history is printed and following starts (show: -g with -n, line times). */
  onLive?: () => void;
}
