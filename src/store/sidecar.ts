// What a readable sidecar is (pure): JSON that parses is not enough, a sidecar whose fields have
// the wrong types must not crash or mislead a reader, retention or a peer; it is treated as
// unreadable (its segment's metadata is rebuilt from the key and the content, segments.ts).
import type { SegmentMeta } from './types.js';
import { isTrackedFile } from './watermarks.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function isBootMark(v: unknown): boolean {
  return (
    isObject(v) && isCount(v.offset) && isStr(v.id) && isStr(v.host) && isStr(v.at) && isCount(v.markerBytes)
  );
}

/** Whether `v` (a parsed sidecar) is the whole SegmentMeta of segment `key`. */
export function isSegmentMeta(v: unknown, key: string): v is SegmentMeta {
  if (!isObject(v) || v.version !== 1 || v.key !== key) return false;
  const o = v.origin;
  const from = v.importedFrom;
  return (
    isStr(v.host) &&
    isCount(v.generation) &&
    isCount(v.seq) &&
    isStr(v.device) &&
    isStr(v.reason) &&
    isObject(o) &&
    isStr(o.host) &&
    isStr(o.path) &&
    isCount(o.dev) &&
    isCount(o.ino) &&
    isCount(o.start) &&
    isCount(o.end) &&
    isCount(v.plainBytes) &&
    isCount(v.lines) &&
    isStr(v.firstTime) &&
    isStr(v.lastTime) &&
    isStr(v.sha256) &&
    Array.isArray(v.boots) &&
    v.boots.every(isBootMark) &&
    isStr(v.sealedAt) &&
    (v.watermark === undefined || isTrackedFile(v.watermark)) &&
    (v.orderGeneration === undefined || isCount(v.orderGeneration)) &&
    (from === undefined || (isObject(from) && isStr(from.host) && isStr(from.key)))
  );
}
