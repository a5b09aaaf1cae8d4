// Boot markers: the one line the plugin appends to an append-mode log at `prepare begin`
// (ARCHITECTURE.md "Boot markers"), and a scanner that finds them (and counts lines) in a byte stream.

export interface BootMark {
  /** Byte offset of the boundary in the piece of content it was found in. */
  offset: number;
  id: string;
  host: string;
  at: string;
  /** Length of the in-band marker line at `offset` (0: a boundary without a marker line). */
  markerBytes: number;
}

/** How every marker line begins. */
export const MARKER_PREFIX = '--- virt-consolelog boot=';
const MARKER_PREFIX_BYTES = Buffer.from(MARKER_PREFIX, 'latin1');
const MARKER_RE =
  /^--- virt-consolelog boot=([A-Za-z0-9_.-]{1,64}) host=([A-Za-z0-9_.-]{1,128}) at=(\S{1,40}) ---$/;
/** What a marker's boot id may be (as MARKER_RE reads it). */
export const MARKER_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** Longest marker line, newline included: longer lines are never markers. */
export const MAX_MARKER_BYTES = 300;

export function bootMarkerLine(id: string, host: string, at: Date): string {
  return `${MARKER_PREFIX}${id} host=${host} at=${at.toISOString()} ---\n`;
}

/** Parses one line (without its newline); undefined if it is not a boot marker. */
export function parseBootMarker(line: string): { id: string; host: string; at: string } | undefined {
  const m = MARKER_RE.exec(line);
  return m ? { id: m[1] as string, host: m[2] as string, at: m[3] as string } : undefined;
}

/** Whether `bytes` (the start of a line) may still grow into a marker line. */
export function mayBeMarkerStart(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, MARKER_PREFIX_BYTES.length);
  return bytes.length < MAX_MARKER_BYTES && bytes.subarray(0, n).equals(MARKER_PREFIX_BYTES.subarray(0, n));
}

/** Parses one whole line (newline included, at most MAX_MARKER_BYTES); undefined if not a marker. */
export function parseMarkerLine(line: Buffer): { id: string; host: string; at: string } | undefined {
  if (line.length > MAX_MARKER_BYTES || line[line.length - 1] !== 10) return undefined;
  return parseBootMarker(line.toString('latin1').slice(0, -1));
}

/**
 * The boundary of a boot whose start virtlogd rotated away (a guest that printed more than virtlogd
 * keeps; for a truncating source: the file the start truncated is gone, or the start created a new
 * file): the boot is still known (domain.json), so it begins at `offset`, where its kept output
 * resumes. None when `marked(id)` finds the boot's marker or boundary elsewhere (asked last: it may
 * have to read).
 */
export function resumedBoot(
  boot: { id: string; host: string; at: string } | undefined,
  offset: number,
  marked: (id: string) => boolean,
): BootMark | undefined {
  if (!boot || marked(boot.id)) return undefined;
  return { offset, id: boot.id, host: boot.host, at: boot.at, markerBytes: 0 };
}

/** Streaming scan: counts newlines and finds marker lines, whatever the chunk boundaries. */
export class MarkerScanner {
  lines = 0;
  readonly marks: BootMark[] = [];
  private pos = 0;
  private lineStart = 0;
  /** Bytes of the current line so far, only while it may still be a marker. */
  private carry: Buffer[] = [];
  private carryLen = 0;
  private carryOn = true;

  constructor(private readonly base = 0) {}

  feed(chunk: Buffer): void {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      const end = nl < 0 ? chunk.length : nl + 1;
      // Markers start with '-': any other line is only counted (the common case, kept cheap).
      if (this.carryOn && this.carryLen === 0 && from < chunk.length && chunk[from] !== 45)
        this.carryOn = false;
      if (this.carryOn) {
        const piece = chunk.subarray(from, end);
        if (this.carryLen + piece.length > MAX_MARKER_BYTES) {
          this.carryOn = false;
          this.carry = [];
        } else {
          this.carry.push(piece);
          this.carryLen += piece.length;
        }
      }
      if (nl < 0) {
        this.pos += chunk.length - from;
        // Callers reuse their read buffer: a line carried into the next feed must be a copy.
        if (this.carryOn && this.carryLen) this.carry = [Buffer.concat(this.carry)];
        return;
      }
      this.pos += end - from;
      this.lines++;
      if (this.carryOn) {
        const line = Buffer.concat(this.carry).toString('latin1');
        const m = parseBootMarker(line.slice(0, -1));
        if (m)
          this.marks.push({
            offset: this.base + this.lineStart,
            ...m,
            markerBytes: this.pos - this.lineStart,
          });
      }
      this.lineStart = this.pos;
      this.carry = [];
      this.carryLen = 0;
      this.carryOn = true;
      from = end;
      if (from >= chunk.length) return;
    }
  }
}
