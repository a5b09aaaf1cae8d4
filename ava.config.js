export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  // ava's timeout is one of inactivity (no test result from any worker for that long), not per test:
  // a lab test alone on a slow machine may legitimately run past 5 min (test/lab/patience.ts).
  timeout: '20m',
  // Lab tests start real libvirtd/QEMU processes: the harness serialises what must be serial.
  concurrency: 2,
  workerThreads: false,
};
