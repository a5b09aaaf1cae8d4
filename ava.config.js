export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  timeout: '5m',
  // Lab tests start real libvirtd/QEMU processes: the harness serialises what must be serial.
  concurrency: 2,
  workerThreads: false,
};
