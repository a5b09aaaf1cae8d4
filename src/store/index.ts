// The store's public API (for lifecycle handlers, the reader, migration and commands).
//
// For migration (issue 5):
// - listSegments(config, uuid): a domain's archived segments with their sidecar metadata
//   (SegmentInfo: key, host, generation, device, origin range, plainBytes, sha256, boots...), oldest first.
// - openSegment(config, uuid, key, offset): a segment's plain content from `offset` as a stream.
// - importSegment(config, uuid, meta, content): idempotent import of a peer's segment
//   (content-addressed by sha256 + origin host/key; verified; a partial import is never visible).
//   Call it inside withDomainLock (or withStore).
// - sealHost(config, uuid, host, reason): seal a host's live files on demand (takes the lock).
// - withDomainLock(config, uuid, fn): the domain lock (bounded wait, dead owners recovered).
// - withStore(config, uuid, fn): lock + state files (domain.json, sealed.json) loaded and saved.
// - liveFiles (history/live.ts) lists the unsealed tails the reader would print.
export { withDomainLock, LockTimeoutError, type LockInfo } from './lock.js';
export { listSegments, deleteSegment, type SegmentMeta, type SegmentInfo } from './segments.js';
export { openSegment, importSegment, compressSegment, type ImportResult } from './segment-content.js';
export {
  sealHost,
  sealHostLocked,
  sealDevice,
  withStore,
  type LockedStore,
  type SealOutcome,
} from './seal.js';
export { type DomainState, type HostState, type DeviceState, type BootRef } from './domain-state.js';
export { type BootMark } from './markers.js';
