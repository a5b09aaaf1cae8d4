// The export protocol between hosts (pure): requests a peer may make of `serve-export`, and the
// listing it answers with. Both ends validate everything: the exporter trusts no request, the
// fetching side trusts no listing.
import { isSafeComponent, normaliseUuid } from '../store/layout.js';
import { MARKER_ID_RE } from '../store/markers.js';

export const PROTOCOL_VERSION = 1;

/** Segment keys sort in history order: `<generation 6 digits>-<seq 8 digits>-<host>`. */
const KEY_RE = /^(\d{6})-(\d{8})-([A-Za-z0-9][A-Za-z0-9_.-]{0,127})$/;
/** Logged chardevs are named serialN, consoleN, parallelN (ARCHITECTURE.md "Devices and live paths"). */
const DEVICE_RE = /^(serial|console|parallel)\d{1,3}$/;
const OFFSET_RE = /^(0|[1-9]\d{0,15})$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
/** A request line is short; anything longer is refused before it is looked at. */
const MAX_REQUEST_CHARS = 512;

export type ExportRequest =
  | { verb: 'list'; uuid: string }
  | { verb: 'get'; uuid: string; key: string; offset: number }
  | { verb: 'live'; uuid: string; host: string; device: string; offset: number }
  | { verb: 'times'; uuid: string; key: string };

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export function isSegmentKey(s: string): boolean {
  const m = KEY_RE.exec(s);
  return !!m && isSafeComponent(m[3] ?? '');
}

export function isDeviceName(s: string): boolean {
  return DEVICE_RE.test(s);
}

/** Splits SSH_ORIGINAL_COMMAND: words separated by single spaces, nothing a shell would interpret. */
export function splitRequestLine(line: string): string[] {
  if (line.length > MAX_REQUEST_CHARS)
    throw new ProtocolError(`request longer than ${MAX_REQUEST_CHARS} characters`);
  if (!/^[A-Za-z0-9 ._-]*$/.test(line))
    throw new ProtocolError(`request holds characters outside [A-Za-z0-9 ._-]: ${JSON.stringify(line)}`);
  return line.split(' ').filter((w) => w !== '');
}

function uuidArg(s: string | undefined): string {
  // Only the canonical lower-case form: the exporter never guesses what another spelling means.
  const u = s === undefined ? undefined : normaliseUuid(s);
  if (!u || u !== s)
    throw new ProtocolError(`not a domain UUID (lower case, with dashes): ${JSON.stringify(s)}`);
  return u;
}

function offsetArg(s: string | undefined): number {
  if (s === undefined || !OFFSET_RE.test(s))
    throw new ProtocolError(`not a byte offset: ${JSON.stringify(s)}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new ProtocolError(`byte offset out of range: ${s}`);
  return n;
}

function arity(words: readonly string[], n: number, usage: string): void {
  if (words.length !== n)
    throw new ProtocolError(`"${words[0]}" takes ${n - 1} arguments (${usage}), got ${words.length - 1}`);
}

/** Parses one request; anything unknown, extra, or outside the expected alphabet is refused. */
export function parseRequest(words: readonly string[]): ExportRequest {
  if (words.some((w) => w.length > 200 || !/^[A-Za-z0-9._-]+$/.test(w)))
    throw new ProtocolError(`bad request word in ${JSON.stringify(words)}`);
  const [verb] = words;
  switch (verb) {
    case 'list':
      arity(words, 2, 'list UUID');
      return { verb, uuid: uuidArg(words[1]) };
    case 'get': {
      arity(words, 4, 'get UUID KEY OFFSET');
      const key = words[2] ?? '';
      if (!isSegmentKey(key)) throw new ProtocolError(`not a segment key: ${JSON.stringify(key)}`);
      return { verb, uuid: uuidArg(words[1]), key, offset: offsetArg(words[3]) };
    }
    case 'live': {
      arity(words, 5, 'live UUID HOST DEVICE OFFSET');
      const host = words[2] ?? '';
      const device = words[3] ?? '';
      if (!isSafeComponent(host)) throw new ProtocolError(`not a host name: ${JSON.stringify(host)}`);
      if (!isDeviceName(device)) throw new ProtocolError(`not a device name: ${JSON.stringify(device)}`);
      return { verb, uuid: uuidArg(words[1]), host, device, offset: offsetArg(words[4]) };
    }
    case 'times': {
      arity(words, 3, 'times UUID KEY');
      const key = words[2] ?? '';
      if (!isSegmentKey(key)) throw new ProtocolError(`not a segment key: ${JSON.stringify(key)}`);
      return { verb, uuid: uuidArg(words[1]), key };
    }
    case undefined:
      throw new ProtocolError('empty request (expected list, get, live or times)');
    default:
      throw new ProtocolError(`unknown request ${JSON.stringify(verb)} (expected list, get, live or times)`);
  }
}

/** The request as the words a transport sends. */
export function requestWords(r: ExportRequest): string[] {
  switch (r.verb) {
    case 'list':
      return ['list', r.uuid];
    case 'get':
      return ['get', r.uuid, r.key, String(r.offset)];
    case 'live':
      return ['live', r.uuid, r.host, r.device, String(r.offset)];
    case 'times':
      return ['times', r.uuid, r.key];
  }
}

/** One sealed segment as a peer lists it: what the fetching side needs, plus the sidecar as-is. */
export interface ListedSegment {
  key: string;
  host: string;
  generation: number;
  seq: number;
  /** Plain (uncompressed) byte count, what `get` streams from offset 0. */
  bytes: number;
  sha256: string;
  reason: string;
  /** The full sidecar (JSON object) the store wrote; imported with the bytes. */
  sidecar: Record<string, unknown>;
}

/** One of the exporter's own live files of the domain (metadata only: content stays there). */
export interface ListedLive {
  host: string;
  device: string;
  /** File name in its folder: `serial0.log`, a rotation `serial0.log.0`, Nova's `console.log`... */
  file: string;
  /** Current size. */
  bytes: number;
  /** Bytes [0, sealed) are in the exporter's archive. */
  sealed: number;
  /** Where it is on the exporter, and its inode: a file on shared storage is the same file here. */
  path: string;
  ino: number;
  /** sha256 (hex) of its first HEAD_LEN bytes (all of them when shorter). */
  head: string;
}

/** Leading bytes whose hash identifies a live file's content along with its inode. */
export const HEAD_LEN = 256;

export interface Listing {
  protocol: number;
  uuid: string;
  /** Host name of the exporter (its config host_name). */
  exporter: string;
  /** Exporter's clock when it answered (ISO), for the record only. */
  at: string;
  /** Highest migration generation the exporter knows for the domain (its own or its history's). */
  maxGeneration: number;
  segments: ListedSegment[];
  live: ListedLive[];
  /** Boot-marker ids the exporter's store knows: its markers in a log both hosts see are boots. */
  markers: string[];
}

/** Most marker ids a listing is read with (the newest, last): a few hosts' worth of KNOWN_BOOTS. */
export const MAX_LISTED_MARKERS = 16_000;

function num(o: Record<string, unknown>, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new ProtocolError(`${what}: field ${k} is not a non-negative integer`);
  return v;
}

function str(o: Record<string, unknown>, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new ProtocolError(`${what}: field ${k} is not a string`);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a listing a peer sent (untrusted JSON text) for the domain we asked about. */
export function parseListing(text: string, uuid: string): Listing {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError(`listing is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) throw new ProtocolError('listing is not a JSON object');
  const protocol = num(raw, 'protocol', 'listing');
  if (protocol !== PROTOCOL_VERSION)
    throw new ProtocolError(`peer speaks protocol ${protocol}, we speak ${PROTOCOL_VERSION}`);
  if (raw.uuid !== uuid)
    throw new ProtocolError(`listing is for domain ${String(raw.uuid)}, asked for ${uuid}`);
  const exporter = str(raw, 'exporter', 'listing');
  if (!isSafeComponent(exporter))
    throw new ProtocolError(`listing: bad exporter host ${JSON.stringify(exporter)}`);
  if (!Array.isArray(raw.segments) || !Array.isArray(raw.live))
    throw new ProtocolError('listing: segments and live must be arrays');
  const seen = new Set<string>();
  const segments = raw.segments.map((s: unknown, i): ListedSegment => {
    const what = `listing segment ${i}`;
    if (!isObject(s) || !isObject(s.sidecar))
      throw new ProtocolError(`${what}: not an object with a sidecar`);
    const key = str(s, 'key', what);
    const m = KEY_RE.exec(key);
    if (!m || !isSegmentKey(key)) throw new ProtocolError(`${what}: bad key ${JSON.stringify(key)}`);
    if (seen.has(key)) throw new ProtocolError(`${what}: key ${key} listed twice`);
    seen.add(key);
    const host = str(s, 'host', what);
    const generation = num(s, 'generation', what);
    const seq = num(s, 'seq', what);
    if (host !== m[3] || generation !== Number(m[1]) || seq !== Number(m[2]))
      throw new ProtocolError(`${what}: key ${key} disagrees with host/generation/seq`);
    const sha256 = str(s, 'sha256', what);
    if (!SHA256_RE.test(sha256)) throw new ProtocolError(`${what}: bad sha256`);
    return {
      key,
      host,
      generation,
      seq,
      bytes: num(s, 'bytes', what),
      sha256,
      reason: str(s, 'reason', what),
      sidecar: s.sidecar,
    };
  });
  const live = raw.live.map((l: unknown, i): ListedLive => {
    const what = `listing live file ${i}`;
    if (!isObject(l)) throw new ProtocolError(`${what}: not an object`);
    const host = str(l, 'host', what);
    const device = str(l, 'device', what);
    const file = str(l, 'file', what);
    if (!isSafeComponent(host) || !isDeviceName(device) || !isSafeComponent(file))
      throw new ProtocolError(`${what}: bad host, device or file ${JSON.stringify([host, device, file])}`);
    const bytes = num(l, 'bytes', what);
    const sealed = num(l, 'sealed', what);
    if (sealed > bytes) throw new ProtocolError(`${what}: sealed ${sealed} > size ${bytes}`);
    const path = str(l, 'path', what);
    if (!path.startsWith('/') || path.includes('\0')) throw new ProtocolError(`${what}: bad path`);
    const head = str(l, 'head', what);
    if (!SHA256_RE.test(head)) throw new ProtocolError(`${what}: bad head hash`);
    return { host, device, file, bytes, sealed, path, ino: num(l, 'ino', what), head };
  });
  const maxGeneration = num(raw, 'maxGeneration', 'listing');
  // A peer that predates marker ids in listings sends none.
  const markers = raw.markers ?? [];
  if (!Array.isArray(markers) || !markers.every((m) => typeof m === 'string' && MARKER_ID_RE.test(m)))
    throw new ProtocolError('listing: markers must be an array of boot ids');
  return {
    protocol,
    uuid,
    exporter,
    at: typeof raw.at === 'string' ? raw.at : '',
    maxGeneration,
    segments,
    live,
    markers: (markers as string[]).slice(-MAX_LISTED_MARKERS),
  };
}

/**
 * The arrival times of one segment (`times UUID KEY`): points [offset in the segment, ms since
 * the epoch]. A request of its own, so a peer that predates it refuses it and the fetch goes on
 * with coarse times; one segment per answer, so an answer stays as small as its segment.
 */
export interface SegmentTimesOffer {
  protocol: number;
  uuid: string;
  key: string;
  sha256: string;
  /** Unchecked here: each point is checked against the segment (checkPeerPoints). */
  points: unknown;
}

/** Validates the frame of a segment's times (untrusted JSON text); a bad frame refuses it whole. */
export function parseTimesOffer(text: string, uuid: string, key: string): SegmentTimesOffer {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError(`times answer is not JSON: ${(e as Error).message}`);
  }
  const what = 'times answer';
  if (!isObject(raw)) throw new ProtocolError(`${what} is not a JSON object`);
  const protocol = num(raw, 'protocol', what);
  if (protocol !== PROTOCOL_VERSION)
    throw new ProtocolError(`peer speaks protocol ${protocol}, we speak ${PROTOCOL_VERSION}`);
  if (raw.uuid !== uuid || raw.key !== key)
    throw new ProtocolError(
      `${what} is for ${String(raw.uuid)} ${String(raw.key)}, asked for ${uuid} ${key}`,
    );
  const sha256 = str(raw, 'sha256', what);
  if (!SHA256_RE.test(sha256)) throw new ProtocolError(`${what}: bad sha256`);
  return { protocol, uuid, key, sha256, points: raw.points };
}

/** Identity of a segment's content across stores: origin host + origin key + sha256 (as the store dedups). */
export function originId(
  sidecar: Record<string, unknown>,
  key: string,
  host: string,
  sha256: string,
): string {
  const from = sidecar.importedFrom as { host?: unknown; key?: unknown } | undefined;
  const h = typeof from?.host === 'string' ? from.host : host;
  const k = typeof from?.key === 'string' ? from.key : key;
  return `${h}\0${k}\0${sha256}`;
}
