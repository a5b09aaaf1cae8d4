// Nova's console log reader, exactly as nova/virt/libvirt/driver.py _get_console_output_file and
// nova/privsep/path.py last_bytes do it (docs/MANAGEMENT-LAYERS.md), for unit and lab tests.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

export const MAX_CONSOLE_BYTES = 100 * 1024;

/** last_bytes(path, num): seek to -num from the end (or 0), read to the end. */
export function lastBytes(path: string, num: number): { data: Buffer; remaining: number } {
  const size = statSync(path).size;
  const start = Math.max(0, size - num);
  const fd = openSync(path, 'r');
  try {
    const data = Buffer.alloc(size - start);
    let got = 0;
    while (got < data.length) {
      const n = readSync(fd, data, got, data.length - got, start + got);
      if (n <= 0) break;
      got += n;
    }
    return { data: data.subarray(0, got), remaining: start };
  } finally {
    closeSync(fd);
  }
}

/**
 * _get_console_output_file(instance, console_log): the log, then console_log + ".0", ".1", ...
 * while the path exists and budget is left, each tail prepended. `outside` maps the path Nova sees
 * to one this process can open (a lab host's private folders).
 */
export function novaConsoleOutputFile(consoleLog: string, outside: (p: string) => string = (p) => p): Buffer {
  let bytesToRead = MAX_CONSOLE_BYTES;
  let logData = Buffer.alloc(0);
  let i = 0;
  let path = consoleLog;
  while (bytesToRead > 0 && existsSync(outside(path))) {
    const { data } = lastBytes(outside(path), bytesToRead);
    logData = Buffer.concat([data, logData]);
    bytesToRead -= data.length;
    path = `${consoleLog}.${i}`;
    i++;
  }
  return logData;
}
