// The strace reader the path-policy tests stand on (pure): a misread trace reports a harmless hook
// as a violator, or hides a real violation behind a wrong path.
import test from 'ava';
import { parseTrace, stitchTrace, violations, type Policy } from './trace.js';

const STORE = '/var/log/libvirt/consolelog';
const CHUNK = '/opt/vcl/dist/chunks/chunk-KTFC5FMK.mjs';
const policy: Policy = { writable: [STORE], readable: ['/opt/vcl/dist'], forbidden: ['/etc/shadow'] };

// Shaped on a real hook trace: Node's pool threads load a chunk on fd 18 while the main thread
// opens a store folder, which strace splits because another thread printed in between.
const interleaved = [
  `5311  openat(AT_FDCWD</>, "${CHUNK}", O_RDONLY|O_CLOEXEC) = 18<${CHUNK}>`,
  `5304  openat(AT_FDCWD</>, "/proc/self/fd/17/dom", O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_DIRECTORY <unfinished ...>`,
  `5312  statx(AT_FDCWD</>, "${CHUNK}", AT_STATX_SYNC_AS_STAT, STATX_ALL,  <unfinished ...>`,
  `5304  <... openat resumed>)             = 18<${STORE}/dom>`,
  `5312  <... statx resumed>{stx_mask=STATX_ALL, stx_size=2848, ...}) = 0`,
  `5304  mkdir("/proc/self/fd/18/archive", 0750) = 0`,
];

test('an open split by another thread still names the fd it returned', (t) => {
  const stitched = stitchTrace(interleaved);
  t.is(stitched.length, 4);
  t.true(
    stitched.includes(
      `5304  openat(AT_FDCWD</>, "/proc/self/fd/17/dom", O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_DIRECTORY)             = 18<${STORE}/dom>`,
    ),
  );
  const mkdir = parseTrace(interleaved).find((a) => a.syscall === 'mkdir');
  t.is(mkdir?.path, `${STORE}/dom/archive`);
  t.deepEqual(violations(parseTrace(interleaved), policy), []);
});

test('a write through a stale fd number is judged by the folder the fd really holds', (t) => {
  // Without the stitch, fd 18 would still read as the chunk and hide or invent a violation.
  const lines = [
    `5304  openat(AT_FDCWD</>, "${STORE}/dom", O_RDONLY|O_DIRECTORY) = 18<${STORE}/dom>`,
    `5304  openat(AT_FDCWD</>, "/etc", O_RDONLY|O_DIRECTORY <unfinished ...>`,
    `5311  openat(AT_FDCWD</>, "${CHUNK}", O_RDONLY|O_CLOEXEC) = 19<${CHUNK}>`,
    `5304  <... openat resumed>) = 18</etc>`,
    `5304  mkdir("/proc/self/fd/18/cron.d", 0700) = 0`,
  ];
  const bad = violations(parseTrace(lines), policy).map((a) => a.path);
  t.true(bad.includes('/etc/cron.d'), bad.join(' '));
});

test('a call the trace ended in keeps its arguments; exit lines carry none', (t) => {
  const lines = [`5304  mkdir("/tmp/elsewhere", 0700 <unfinished ...>`, '5304  +++ killed by SIGKILL +++'];
  t.deepEqual(
    parseTrace(lines).map((a) => [a.syscall, a.path, a.write]),
    [['mkdir', '/tmp/elsewhere', true]],
  );
});

test("a child process's fd number never names the parent's folder; threads share one table", (t) => {
  const lines = [
    `5304  clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, stack_size=0x7ffe80} => {parent_tid=[5311]}, 88) = 5311`,
    `5311  openat(AT_FDCWD</>, "${STORE}/dom", O_RDONLY|O_DIRECTORY) = 18<${STORE}/dom>`,
    // A detached job: a new process with a copy of the table, then its own Node start-up.
    `5304  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 5400`,
    `5400  openat(AT_FDCWD</>, "${CHUNK}", O_RDONLY|O_CLOEXEC) = 18<${CHUNK}>`,
    `5304  mkdir("/proc/self/fd/18/archive", 0750) = -1 EEXIST (File exists)`,
    `5400  openat(AT_FDCWD</>, "/proc/self/fd/18", O_RDONLY) = 19<${CHUNK}>`,
  ];
  const accesses = parseTrace(lines);
  const mkdir = accesses.find((a) => a.syscall === 'mkdir');
  t.is(mkdir?.path, `${STORE}/dom/archive`, "the pool thread's open is its process's");
  const childFd = accesses.find((a) => a.pid === 5400 && a.line.includes('/proc/self/fd/18'));
  t.is(childFd?.path, CHUNK, "the child's own fd 18");
  t.deepEqual(violations(parseTrace(lines), policy), []);
});

test("the launcher's stat reads what its libraries read; a write of its own still counts", (t) => {
  const lines = [
    '6001  execve("/usr/bin/stat", ["stat", "-L", "--printf", "%a_", "/var/cache/virt-consolelog"], 0x1 /* 3 vars */) = 0',
    '6001  statfs("/sys/fs/selinux", 0x7ffd) = -1 ENOENT (No such file or directory)',
    '6001  openat(AT_FDCWD</>, "/proc/filesystems", O_RDONLY|O_CLOEXEC) = 3</proc/filesystems>',
    '6001  access("/etc/selinux/config", F_OK) = -1 ENOENT (No such file or directory)',
  ];
  t.deepEqual(violations(parseTrace(lines), policy), []);
  const writing = [
    ...lines,
    '6001  openat(AT_FDCWD</>, "/etc/cron.d/x", O_WRONLY|O_CREAT, 0644) = 4</etc/cron.d/x>',
  ];
  t.deepEqual(
    violations(parseTrace(writing), policy).map((a) => a.path),
    ['/etc/cron.d/x', '/etc/cron.d/x'],
  );
  // The same reads by the hook's own process are violations.
  t.true(violations(parseTrace(lines.slice(1)), policy).length > 0);
});
