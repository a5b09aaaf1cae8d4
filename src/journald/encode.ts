// journald's native protocol (systemd.journal-fields(7), "Native Journal Protocol"), pure: one entry
// is a sequence of fields, each `KEY=value\n`, or `KEY\n<64-bit LE length><bytes>\n` for a value that
// is not plain text (non-UTF-8, control bytes); journald stores both forms as the same bytes.
import { isUtf8 } from 'node:buffer';
import type { CapturedLine } from '../capture/sink.js';

export type Field = readonly [name: string, value: Buffer | string];

/** Longest MESSAGE sent: the rest of a longer line stays in the store (VIRT_LINE_BYTES says how long it was). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** syslog "informational": console output is neither an error nor a warning of the host. */
export const CONSOLE_PRIORITY = 6;
export const REPORT_PRIORITY = 4;

/** Field names journald accepts from a client: A-Z, 0-9, _, not starting with _ or a digit, at most 64. */
export function validFieldName(name: string): boolean {
  return /^[A-Z][A-Z0-9_]{0,63}$/.test(name);
}

/** Names already checked (a handful, used on every line): the pattern is tested once per name. */
const checkedNames = new Set<string>();

/** True when the value can go as `KEY=value`: valid UTF-8 without control bytes other than tab. */
export function isPlainText(value: Buffer): boolean {
  // An indexed loop (for-of over a Buffer makes an iterator: per line, measurable); UTF-8 checked natively.
  let ascii = true;
  for (let i = 0; i < value.length; i++) {
    const b = value[i] as number;
    if ((b < 0x20 && b !== 0x09) || b === 0x7f) return false;
    if (b >= 0x80) ascii = false;
  }
  return ascii || isUtf8(value);
}

/** One entry in the native format (what one datagram to /run/systemd/journal/socket carries). */
export function encodeEntry(fields: readonly Field[]): Buffer {
  return encode(fields, 0);
}

/** frame(encodeEntry(fields)) in one allocation: what the sink sends for each console line. */
export function encodeFramed(fields: readonly Field[]): Buffer {
  const out = encode(fields, 4);
  out.writeUInt32BE(out.length - 4, 0);
  return out;
}

/**
 * One console line framed for the sender: the same bytes as encodeFramed(lineFields(line)), with the
 * fields after MESSAGE taken from `tail` (lineTail of the line's guest, device and boot, encoded once
 * rather than for each line). Only for lines within MAX_MESSAGE_BYTES (lineTail has no VIRT_LINE_BYTES).
 */
export function encodeLineFramed(text: Buffer, tail: Buffer): Buffer {
  const out = encode([['MESSAGE', text]], 4, tail);
  out.writeUInt32BE(out.length - 4, 0);
  return out;
}

/** The encoded fields that follow MESSAGE for every line of one guest's device and boot. */
export function lineTail(line: Omit<CapturedLine, 'text' | 'time'>): Buffer {
  return encodeEntry(lineFields({ ...line, time: 0, text: Buffer.alloc(0) }).slice(1));
}

/**
 * The entry after `head` bytes left for the caller, then `tail` (fields already encoded): sizes
 * first, then one buffer written in place.
 */
function encode(fields: readonly Field[], head: number, tail?: Buffer): Buffer {
  const values: Buffer[] = [];
  const plain: boolean[] = [];
  let size = head + (tail?.length ?? 0);
  for (const [name, raw] of fields) {
    if (!checkedNames.has(name)) {
      if (!validFieldName(name)) throw new Error(`not a journal field name: ${JSON.stringify(name)}`);
      checkedNames.add(name);
    }
    const value = typeof raw === 'string' ? Buffer.from(raw) : raw;
    const p = isPlainText(value);
    values.push(value);
    plain.push(p);
    size += name.length + 1 + (p ? 0 : 8) + value.length + 1;
  }
  const out = Buffer.allocUnsafe(size);
  let at = head;
  for (let i = 0; i < fields.length; i++) {
    const value = values[i] as Buffer;
    at += out.write((fields[i] as Field)[0], at, 'latin1');
    if (plain[i]) out[at++] = 0x3d;
    else {
      out[at++] = 0x0a;
      out.writeBigUInt64LE(BigInt(value.length), at);
      at += 8;
    }
    at += value.copy(out, at);
    out[at++] = 0x0a;
  }
  tail?.copy(out, at);
  return out;
}

/** The identifier `journalctl -t` filters on: one per guest, so a shipper's usual label already tells guests apart. */
export function guestIdentifier(domain: string): string {
  return `console/${domain}`;
}

/** The fields of one guest console line. */
export function lineFields(line: CapturedLine): Field[] {
  const fields: Field[] = [
    ['MESSAGE', line.text.length > MAX_MESSAGE_BYTES ? line.text.subarray(0, MAX_MESSAGE_BYTES) : line.text],
    ['PRIORITY', String(CONSOLE_PRIORITY)],
    ['SYSLOG_IDENTIFIER', guestIdentifier(line.domain)],
    ['VIRT_DOMAIN_NAME', line.domain],
    ['VIRT_DOMAIN_UUID', line.uuid],
    ['VIRT_DEVICE', line.device],
  ];
  if (line.boot) fields.push(['VIRT_BOOT_ID', line.boot]);
  if (line.text.length > MAX_MESSAGE_BYTES) fields.push(['VIRT_LINE_BYTES', String(line.text.length)]);
  return fields;
}

/** What the report of left-out lines says, and the fields that let a person find it with the guest's lines. */
export interface LeftOutReport {
  domain: string;
  uuid: string;
  lines: number;
  bytes: number;
  seconds: number;
  rateLines: number;
}

export function leftOutMessage(r: LeftOutReport): string {
  return (
    `virt-consolelog: ${r.lines} console lines (${r.bytes} bytes) of ${r.domain} left out of the journal ` +
    `in the last ${r.seconds} s (bound: ${r.rateLines} lines/s per guest); the store has them: ` +
    `virt-consolelog show ${r.domain}`
  );
}

export function reportFields(r: LeftOutReport): Field[] {
  return [
    ['MESSAGE', leftOutMessage(r)],
    ['PRIORITY', String(REPORT_PRIORITY)],
    ['SYSLOG_IDENTIFIER', guestIdentifier(r.domain)],
    ['VIRT_DOMAIN_NAME', r.domain],
    ['VIRT_DOMAIN_UUID', r.uuid],
    ['VIRT_LEFT_OUT_LINES', String(r.lines)],
    ['VIRT_LEFT_OUT_BYTES', String(r.bytes)],
  ];
}

/** The frame the sender helper reads: 4-byte big-endian length, then the entry. */
export function frame(entry: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(entry.length);
  return Buffer.concat([head, entry]);
}
