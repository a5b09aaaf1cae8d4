// The configuration keys, their types and defaults: the one place that documents them.

export interface Config {
  /** Root of the store: <log_root>/<domain uuid>/... */
  logRoot: string;
  /**
   * Folder of the live logs virtlogd writes, <live_dir>/<uuid>.<device>.console. libvirt's own QEMU
   * log folder by default, which every libvirt host has (libvirt's packages ship it), so a guest that
   * migrates to a host without this plugin still finds its log folder there. Host-local.
   */
  liveDir: string;
  /** Plugin state: host facts cache, event journal, transfer key, pending work. */
  stateDir: string;
  /** Name of this host in the store and in metadata hints; empty = the system host name. */
  hostName: string;
  /** Paths from domain XML are only read, sealed or moved when they lie inside one of these. */
  allowedRoots: string[];
  /** Backend that a `type='file'` serial/console becomes so that `virsh console` works. */
  fileSerialBecomes: 'pty';
  /** Also give parallel ports an append-mode log (off: parallel ports are never touched). */
  rewriteParallel: boolean;
  /** Keep a log path that lies outside the store where it is (Nova reads its own instance folder). */
  keepForeignLogPath: boolean;
  /**
   * Lay earlier history out as chain files beside a log a management layer reads in place (Nova's
   * console.log, .0, .1 ...): after a truncating start and after a migration's history fetch.
   */
  chainLogs: boolean;
  /** Bytes of earlier history in that chain file (it counts against domain_cap_bytes). */
  chainBytes: number;
  /** Cap on live + archived bytes of one domain; the oldest sealed segments go first. 0 = none. */
  domainCapBytes: number;
  /** Cap on the whole store; the oldest sealed segments of any domain go first. 0 = none. */
  globalCapBytes: number;
  /** gzip sealed segments of at least this many bytes; -1 = never compress. */
  compressMinBytes: number;
  /** Sealed history older than this many days is pruned; 0 = keep until a cap removes it. */
  retentionDays: number;
  /**
   * History of a domain libvirt no longer lists on this host (undefined, migrated away) is forgotten
   * this many days after its last event or segment; decimals allowed; 0 = keep for ever.
   */
  undefinedRetentionDays: number;
  /** Strict mode: a hook error (a crash, or an event not logged as it should be) fails the guest operation. */
  strict: boolean;
  /** After a hook event, a detached job upgrades the persistent definition (virt-consolelog enable). */
  autoEnable: boolean;
  /** Hosts that may hold a guest's earlier history when no metadata hint names one. */
  peers: string[];
  /** How to reach a peer's export command: "ssh", or "command" (transport_command, for labs and tests). */
  transport: 'ssh' | 'command';
  /** argv prefix for transport "command"; "{host}" is replaced by the peer name. */
  transportCommand: string[];
  /** ssh user and private key of the dedicated transfer key. */
  sshUser: string;
  sshKey: string;
  /** Seconds a transfer may take before it is abandoned (and retried later). */
  transferTimeoutSeconds: number;
  /** How long a hook waits for a domain lock before it fails open, and when a lock counts as stale. */
  lockWaitMs: number;
  lockStaleMs: number;
  /** Size cap of the plugin's own event journal (rotated, 3 files kept). */
  journalMaxBytes: number;
  /** Mode of log files and segments the plugin creates. */
  logFileMode: number;
  /** The capture service forwards every guest console line to the host's systemd journal. */
  journaldForward: boolean;
  /** Per guest: lines per second it may send to the journal in the long run (the rest stays in the store only); 0 = no bound. */
  journaldRateLines: number;
  /** Per guest: lines it may send at once after a quiet spell (a boot's burst). */
  journaldBurstLines: number;
}

export type KeyKind = 'string' | 'bool' | 'int' | 'number' | 'mode' | 'list' | 'enum';

export interface KeySpec {
  key: keyof Config;
  kind: KeyKind;
  values?: readonly string[];
  doc: string;
}

export const DEFAULT_CONFIG_PATH = '/etc/virt-consolelog/virt-consolelog.conf';

export const DEFAULTS: Readonly<Config> = Object.freeze({
  logRoot: '/var/log/libvirt/consolelog',
  liveDir: '/var/log/libvirt/qemu',
  stateDir: '/var/lib/virt-consolelog',
  hostName: '',
  allowedRoots: ['/var/log/libvirt', '/var/lib/libvirt', '/var/lib/nova/instances'],
  fileSerialBecomes: 'pty',
  rewriteParallel: false,
  keepForeignLogPath: true,
  chainLogs: true,
  chainBytes: 100 * 1024,
  domainCapBytes: 64 * 1024 * 1024,
  globalCapBytes: 0,
  compressMinBytes: 4096,
  retentionDays: 0,
  // A month: longer than a host's usual maintenance window (a guest migrated away for a host
  // upgrade and back keeps its history), short enough that deleted guests do not fill the store.
  undefinedRetentionDays: 30,
  strict: false,
  autoEnable: true,
  peers: [],
  transport: 'ssh',
  transportCommand: [],
  sshUser: 'root',
  sshKey: '/var/lib/virt-consolelog/ssh/id_ed25519',
  transferTimeoutSeconds: 120,
  lockWaitMs: 5000,
  lockStaleMs: 30000,
  journalMaxBytes: 1024 * 1024,
  logFileMode: 0o640,
  journaldForward: true,
  journaldRateLines: 200,
  journaldBurstLines: 2000,
} satisfies Config);

/** File key (snake_case, as in libvirt's own .conf files) -> spec. */
export const KEYS: Readonly<Record<string, KeySpec>> = {
  log_root: { key: 'logRoot', kind: 'string', doc: 'root folder of the store' },
  live_dir: {
    key: 'liveDir',
    kind: 'string',
    doc: 'folder of the live logs virtlogd writes (host-local; every libvirt host has the default)',
  },
  state_dir: {
    key: 'stateDir',
    kind: 'string',
    doc: 'plugin state (host facts, journal, key, pending work)',
  },
  host_name: { key: 'hostName', kind: 'string', doc: 'this host in the store and in hints; "" = hostname' },
  allowed_roots: {
    key: 'allowedRoots',
    kind: 'list',
    doc: 'only paths from domain XML inside these are acted on',
  },
  file_serial_becomes: {
    key: 'fileSerialBecomes',
    kind: 'enum',
    values: ['pty'],
    doc: "backend a type='file' serial becomes",
  },
  rewrite_parallel: { key: 'rewriteParallel', kind: 'bool', doc: 'also log parallel ports' },
  keep_foreign_log_path: {
    key: 'keepForeignLogPath',
    kind: 'bool',
    doc: 'keep a log path outside the store (Nova) and only turn truncation into append',
  },
  chain_logs: {
    key: 'chainLogs',
    kind: 'bool',
    doc: "lay earlier history out as a reader chain (Nova's console.log.0) beside logs kept in place",
  },
  chain_bytes: {
    key: 'chainBytes',
    kind: 'int',
    doc: 'bytes of earlier history in that chain file (Nova reads 102400); counts against the cap',
  },
  domain_cap_bytes: { key: 'domainCapBytes', kind: 'int', doc: 'per-domain cap, live + archive; 0 = none' },
  global_cap_bytes: { key: 'globalCapBytes', kind: 'int', doc: 'whole-store cap; 0 = none' },
  compress_min_bytes: {
    key: 'compressMinBytes',
    kind: 'int',
    doc: 'gzip sealed segments from this size; -1 = never',
  },
  retention_days: {
    key: 'retentionDays',
    kind: 'int',
    doc: 'prune sealed history older than this; 0 = caps only',
  },
  undefined_retention_days: {
    key: 'undefinedRetentionDays',
    kind: 'number',
    doc: 'forget the history of domains libvirt no longer lists here this many days after it ends (decimals allowed); 0 = never',
  },
  strict: { key: 'strict', kind: 'bool', doc: 'hook errors fail the guest operation (default: fail open)' },
  auto_enable: { key: 'autoEnable', kind: 'bool', doc: 'upgrade persistent definitions after hook events' },
  peers: { key: 'peers', kind: 'list', doc: 'hosts that may hold earlier history' },
  transport: { key: 'transport', kind: 'enum', values: ['ssh', 'command'], doc: 'how peers are reached' },
  transport_command: { key: 'transportCommand', kind: 'list', doc: 'argv prefix for transport "command"' },
  ssh_user: { key: 'sshUser', kind: 'string', doc: 'ssh user on peers' },
  ssh_key: { key: 'sshKey', kind: 'string', doc: 'dedicated transfer key' },
  transfer_timeout_seconds: {
    key: 'transferTimeoutSeconds',
    kind: 'int',
    doc: 'abandon a transfer after this',
  },
  lock_wait_ms: { key: 'lockWaitMs', kind: 'int', doc: 'bounded wait for a domain lock' },
  lock_stale_ms: { key: 'lockStaleMs', kind: 'int', doc: 'a lock not refreshed for this long is stale' },
  journal_max_bytes: { key: 'journalMaxBytes', kind: 'int', doc: 'event journal size cap' },
  log_file_mode: { key: 'logFileMode', kind: 'mode', doc: 'mode of files the plugin creates (octal)' },
  journald_forward: {
    key: 'journaldForward',
    kind: 'bool',
    doc: 'the capture service forwards guest console lines to the systemd journal',
  },
  journald_rate_lines: {
    key: 'journaldRateLines',
    kind: 'int',
    doc: 'per guest: lines/s it may send to the journal; 0 = no bound',
  },
  journald_burst_lines: {
    key: 'journaldBurstLines',
    kind: 'int',
    doc: 'per guest: lines it may send to the journal at once',
  },
};
