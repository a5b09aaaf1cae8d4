import test from 'ava';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configPath, loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse.js';
import { DEFAULT_CONFIG_PATH, DEFAULTS, KEYS, type KeySpec } from '../../src/config/schema.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(repoRoot, 'packaging/virt-consolelog.conf');

test('empty text gives the defaults, without errors', (t) => {
  const r = parseConfig('');
  t.deepEqual(r.errors, []);
  t.deepEqual(r.config, { ...DEFAULTS });
});

test('every key parses a good value in libvirt .conf syntax', (t) => {
  const text = `
log_root = "/srv/consolelog"   # comment after a value
live_dir = "/srv/live"
state_dir = "/srv/state"
host_name = "node-1.example.com"
allowed_roots = [ "/var/log/libvirt",
                  "/srv/nova" ]   # a list over two lines
file_serial_becomes = "pty"
rewrite_parallel = 1
keep_foreign_log_path = 0
chain_logs = 0
chain_bytes = 4096
domain_cap_bytes = 1048576
global_cap_bytes = 0
compress_min_bytes = -1
retention_days = 30
undefined_retention_days = 0.5
strict = 1
auto_enable = 0
peers = [ "hostb", "hostc" ]
transport = "command"
transport_command = [ "ip", "netns", "exec", "{host}" ]
ssh_user = "vcl"
ssh_key = "/srv/key"
transfer_timeout_seconds = 60
lock_wait_ms = 100
lock_stale_ms = 2000
journal_max_bytes = 4096
log_file_mode = 0600
journald_forward = 0
journald_rate_lines = 50
journald_burst_lines = 500
`;
  const r = parseConfig(text, 'test.conf');
  t.deepEqual(r.errors, []);
  t.deepEqual(r.config, {
    logRoot: '/srv/consolelog',
    liveDir: '/srv/live',
    stateDir: '/srv/state',
    hostName: 'node-1.example.com',
    allowedRoots: ['/var/log/libvirt', '/srv/nova'],
    fileSerialBecomes: 'pty',
    rewriteParallel: true,
    keepForeignLogPath: false,
    chainLogs: false,
    chainBytes: 4096,
    domainCapBytes: 1048576,
    globalCapBytes: 0,
    compressMinBytes: -1,
    retentionDays: 30,
    undefinedRetentionDays: 0.5,
    strict: true,
    autoEnable: false,
    peers: ['hostb', 'hostc'],
    transport: 'command',
    transportCommand: ['ip', 'netns', 'exec', '{host}'],
    sshUser: 'vcl',
    sshKey: '/srv/key',
    transferTimeoutSeconds: 60,
    lockWaitMs: 100,
    lockStaleMs: 2000,
    journalMaxBytes: 4096,
    logFileMode: 0o600,
    journaldForward: false,
    journaldRateLines: 50,
    journaldBurstLines: 500,
  });
  // The table above covers every key of the schema.
  t.deepEqual(
    Object.keys(r.config).sort(),
    Object.values(KEYS)
      .map((k: KeySpec) => k.key)
      .sort(),
  );
});

test('a bad value is reported with file, line and key; that key keeps its default, the others apply', (t) => {
  const text = [
    '# a comment',
    'retention_days = 7',
    'domain_cap_bytes = "lots"',
    'strict = yes',
    'transport = "carrier-pigeon"',
    'log_root = "relative/path"',
    'log_file_mode = 0666',
    'peers = [ "a", b ]',
    'no_such_key = 1',
    'this is not a statement',
    'host_name = unquoted',
    'lock_wait_ms = -5',
    'ssh_key = "/ok/key"',
  ].join('\n');
  const r = parseConfig(text, '/etc/virt-consolelog/virt-consolelog.conf');
  const messages = r.errors.map((e) => e.message);
  const at = (line: number, key: string) => `/etc/virt-consolelog/virt-consolelog.conf:${line}: ${key}: `;
  t.true(messages[0]?.startsWith(at(3, 'domain_cap_bytes')), messages[0]);
  t.regex(messages[0] ?? '', /expected an integer/);
  t.true(messages[1]?.startsWith(at(4, 'strict')), messages[1]);
  t.regex(messages[1] ?? '', /expected 0 or 1, got yes/);
  t.true(messages[2]?.startsWith(at(5, 'transport')), messages[2]);
  t.regex(messages[2] ?? '', /must be one of ssh, command/);
  t.true(messages[3]?.startsWith(at(6, 'log_root')), messages[3]);
  t.regex(messages[3] ?? '', /absolute path/);
  t.true(messages[4]?.startsWith(at(7, 'log_file_mode')), messages[4]);
  t.regex(messages[4] ?? '', /world-writable/);
  t.true(messages[5]?.startsWith(at(8, 'peers')), messages[5]);
  t.true(messages[6]?.startsWith(at(9, 'no_such_key')), messages[6]);
  t.regex(messages[6] ?? '', /unknown key/);
  t.regex(messages[7] ?? '', /^\/etc\/virt-consolelog\/virt-consolelog.conf:10: expected "key = value"/);
  t.true(messages[8]?.startsWith(at(11, 'host_name')), messages[8]);
  t.true(messages[9]?.startsWith(at(12, 'lock_wait_ms')), messages[9]);
  t.is(r.errors.length, 10);
  t.deepEqual(
    r.errors.map((e) => [e.line, e.key]),
    [
      [3, 'domain_cap_bytes'],
      [4, 'strict'],
      [5, 'transport'],
      [6, 'log_root'],
      [7, 'log_file_mode'],
      [8, 'peers'],
      [9, 'no_such_key'],
      [10, undefined],
      [11, 'host_name'],
      [12, 'lock_wait_ms'],
    ],
  );
  // Bad keys kept their defaults; good ones applied.
  t.like(r.config, {
    domainCapBytes: DEFAULTS.domainCapBytes,
    strict: DEFAULTS.strict,
    transport: DEFAULTS.transport,
    logRoot: DEFAULTS.logRoot,
    logFileMode: DEFAULTS.logFileMode,
    peers: DEFAULTS.peers,
    hostName: DEFAULTS.hostName,
    lockWaitMs: DEFAULTS.lockWaitMs,
    retentionDays: 7,
    sshKey: '/ok/key',
  });
});

test('undefined_retention_days takes whole or decimal days of at least 0, nothing else', (t) => {
  t.is(parseConfig('undefined_retention_days = 0').config.undefinedRetentionDays, 0);
  t.is(parseConfig('undefined_retention_days = 7').config.undefinedRetentionDays, 7);
  t.is(parseConfig('undefined_retention_days = 0.001').config.undefinedRetentionDays, 0.001);
  for (const bad of ['-1', '1e3', '.5', '"30"', '30 days', 'NaN']) {
    const r = parseConfig(`undefined_retention_days = ${bad}`);
    t.is(r.errors.length, 1, bad);
    t.is(r.config.undefinedRetentionDays, DEFAULTS.undefinedRetentionDays, bad);
  }
  t.is(DEFAULTS.undefinedRetentionDays, 30);
});

test('"#" inside a string is not a comment; escaped quotes are allowed', (t) => {
  const r = parseConfig('ssh_user = "a#b\\"c" # real comment');
  t.deepEqual(r.errors, []);
  t.is(r.config.sshUser, 'a#b"c');
});

test('config path: --config flag, then VIRT_CONSOLELOG_CONFIG, then the default', (t) => {
  t.is(configPath('/flag.conf', { VIRT_CONSOLELOG_CONFIG: '/env.conf' }), '/flag.conf');
  t.is(configPath(undefined, { VIRT_CONSOLELOG_CONFIG: '/env.conf' }), '/env.conf');
  t.is(configPath(undefined, {}), DEFAULT_CONFIG_PATH);
  t.is(DEFAULT_CONFIG_PATH, '/etc/virt-consolelog/virt-consolelog.conf');
});

test('loadConfig: a missing file means defaults (host name resolved), a bad line is reported', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vcl-config-'));
  try {
    const missing = loadConfig(path.join(dir, 'none.conf'), {});
    t.deepEqual(missing.errors, []);
    t.true(missing.config.hostName.length > 0);
    const file = path.join(dir, 'c.conf');
    await writeFile(file, 'host_name = "h1"\nstrict = maybe\n');
    const loaded = loadConfig(undefined, { VIRT_CONSOLELOG_CONFIG: file });
    t.is(loaded.path, file);
    t.is(loaded.config.hostName, 'h1');
    t.is(loaded.errors[0]?.message, `${file}:2: strict: expected 0 or 1, got maybe`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('loadConfig: a config that cannot be read, or an invalid auto_enable, never turns the automatic upgrade on', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'vcl-config-'));
  try {
    t.true(loadConfig(path.join(dir, 'none.conf'), {}).config.autoEnable, 'no file: the default (on)');
    const folder = path.join(dir, 'folder.conf');
    await mkdir(folder);
    const unreadable = loadConfig(folder, {});
    t.regex(unreadable.errors[0]?.message ?? '', /cannot read: EISDIR/);
    t.false(unreadable.config.autoEnable);
    t.is(unreadable.config.logRoot, DEFAULTS.logRoot, 'every other key keeps its default');
    const file = path.join(dir, 'c.conf');
    await writeFile(file, 'auto_enable = off\n');
    const bad = loadConfig(file, {});
    t.regex(bad.errors[0]?.message ?? '', /auto_enable: expected 0 or 1/);
    t.false(bad.config.autoEnable);
    await writeFile(file, 'strict = maybe\n');
    t.true(loadConfig(file, {}).config.autoEnable, 'another bad key leaves the default');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the shipped sample config lists every key, commented out, with its default', async (t) => {
  const text = await readFile(SAMPLE, 'utf8');
  t.deepEqual(parseConfig(text, SAMPLE).errors, [], 'as shipped (all commented) it parses');
  const keyLines = text.split('\n').filter((l) => /^#[a-z_]+ = /.test(l));
  const uncommented = keyLines.map((l) => l.slice(1)).join('\n');
  const r = parseConfig(uncommented, SAMPLE);
  t.deepEqual(r.errors, []);
  t.deepEqual(r.config, { ...DEFAULTS }, 'every value shown is the default');
  t.deepEqual(
    keyLines.map((l) => /^#([a-z_]+)/.exec(l)?.[1]).sort(),
    Object.keys(KEYS).sort(),
    'every key of src/config/schema.ts is in the sample',
  );
});
