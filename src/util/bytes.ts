// Byte counts for the operator: 1024-based units, one decimal above bytes.

/** `512 B`, `1.5 KiB`, `64.0 MiB` (byte counts are whole numbers). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
