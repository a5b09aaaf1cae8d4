// What the capture service does with one device's live files (pure): whether to seal now, which
// bytes virtlogd deleted before they were captured, and when a read offset is a time point.

/** One file of a device's rotation set as the service saw it (oldest first, the live file last). */
export interface SeenFile {
  name: string;
  /** The file virtlogd writes now (not a `.N` backup). */
  live: boolean;
  dev: number;
  ino: number;
  /** Birth time (ms, floored; 0 where unknown): virtlogd's new file may get a deleted one's inode. */
  birth: number;
  size: number;
}

/** A file's identity for the service's in-memory maps (as sealed.json identifies it). */
export const fileKey = (f: Pick<SeenFile, 'dev' | 'ino' | 'birth'>): string => `${f.dev}:${f.ino}:${f.birth}`;

export interface CapturePolicy {
  /** Seal the live file once this many of its bytes are unsealed (half of virtlogd's max_size). */
  sealAtBytes: number;
  /** Seal any unsealed byte at least this often (a shared store: other hosts read it); 0 = never. */
  flushMs: number;
}

export interface SealDecision {
  seal: boolean;
  why?: 'rotated' | 'size' | 'flush' | 'unknown';
  /** Bytes of the set not sealed yet as far as the service knows. */
  unsealed: number;
}

/**
 * Whether to seal a device now. `sealed` maps fileKey -> offset up to which the store holds the
 * file (from sealed.json after the service's last seal; absent = not known). A backup with unsealed
 * bytes is sealed at once: virtlogd deletes the oldest backup at its next rollover. A file never
 * seen sealed counts as unsealed from 0 (the seal then finds the real watermark: nothing twice).
 */
export function decideSeal(
  files: readonly SeenFile[],
  sealed: ReadonlyMap<string, number>,
  policy: CapturePolicy,
  sinceLastSealMs: number,
): SealDecision {
  let unsealed = 0;
  let why: SealDecision['why'];
  for (const f of files) {
    const known = sealed.get(fileKey(f));
    const left = Math.max(0, f.size - (known ?? 0));
    unsealed += left;
    if (!left) continue;
    if (!f.live) why = 'rotated';
    else if (known === undefined && why === undefined) why = 'unknown';
    else if (left >= policy.sealAtBytes && why === undefined) why = 'size';
  }
  if (why === undefined && unsealed > 0 && policy.flushMs > 0 && sinceLastSealMs >= policy.flushMs)
    why = 'flush';
  return why ? { seal: true, why, unsealed } : { seal: false, unsealed };
}

/**
 * Bytes virtlogd deleted before the store held them: files seen before (with their last seen size)
 * that are gone now, minus what was sealed of each. Renames keep the inode, so a rotation loses
 * nothing by itself; only the deletion of the oldest backup can.
 */
export function lostBytes(
  before: readonly SeenFile[],
  now: readonly SeenFile[],
  sealed: ReadonlyMap<string, number>,
): number {
  const present = new Map(now.map((f) => [fileKey(f), f.size]));
  let lost = 0;
  for (const f of before) {
    // A file that shrank under the same identity is another file (no birth time to tell them apart).
    if ((present.get(fileKey(f)) ?? -1) >= f.size) continue;
    lost += Math.max(0, f.size - (sealed.get(fileKey(f)) ?? 0));
  }
  return lost;
}

/** virtlogd's max_size from virtlogd.conf text (its default 2 MiB; 0 = no rotation). */
export function virtlogdMaxSize(confText: string | undefined): number {
  const m = /^\s*max_size\s*=\s*(\d+)\s*(#.*)?$/m.exec(confText ?? '');
  return m ? Number(m[1]) : 2 * 1024 * 1024;
}

/** The policy for a virtlogd max_size: seal the live file at half of it (1 MiB without rotation). */
export function policyFor(maxSize: number, flushMs: number): CapturePolicy {
  return { sealAtBytes: maxSize > 0 ? Math.max(1, Math.floor(maxSize / 2)) : 1024 * 1024, flushMs };
}

/** File systems other hosts may read the store on: there output is sealed every 2 s by default. */
export function isSharedFsType(fsType: string): boolean {
  return /^(nfs4?|ceph|cifs|smb3|glusterfs|gfs2|ocfs2|lustre|beegfs|9p|fuse\.(ceph|glusterfs|sshfs|s3fs|juicefs|.*))$/.test(
    fsType,
  );
}

/**
 * Writes to one log within this long are handled together: one look per device, not one per write.
 * At most POINT_GAP_MS (times.ts): a line's time point is then at most that plus a tick late.
 */
export const COALESCE_MS = 450;

/** What the service knows of a device since it last looked at its files. */
export interface DeviceNews {
  /** The periodic sweep is due (the fallback for events inotify missed or never sends). */
  sweep: boolean;
  /** A name of the rotation set was created, renamed or deleted (a rollover, a new file). */
  renamed: boolean;
  /** A file of the set was written. */
  written: boolean;
  /** The last look found it growing fast (fastGrowth): a seal may be near, so no waiting. */
  fast: boolean;
  msSinceLastLook: number;
}

/** Growth in one look that counts as fast: an eighth of the bytes at which the live file is sealed. */
export function fastGrowth(policy: CapturePolicy): number {
  return Math.max(1, Math.floor(policy.sealAtBytes / 8));
}

/**
 * How to look at a device now: `list` its rotation set by name (lstat each), read the `sizes` of
 * the files already known through their open descriptors (writes only: no name changed), or wait
 * (`none`). A rename is handled at once: the backup it made is deleted at the next rollover; so
 * are writes to a device growing fast (its seal must not wait), e.g. 16 KiB/s under max_size 4096.
 */
export function decideLook(n: DeviceNews, coalesceMs = COALESCE_MS): 'list' | 'sizes' | 'none' {
  if (n.sweep || n.renamed) return 'list';
  return n.written && (n.fast || n.msSinceLastLook >= coalesceMs) ? 'sizes' : 'none';
}
