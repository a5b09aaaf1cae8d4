// Shared by the store lab tests.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabHost } from './harness.js';

/** The store's root on every lab host (the default config). */
export const LAB_STORE = '/var/log/libvirt/consolelog';

/**
 * A destroyed guest may be cut in the middle of a line: the torn last line of a boot (right before
 * the next boot's separator) is output that was really printed, not a checker failure. So is the
 * very last line (`last`): a running guest may be in the middle of printing it, or the test's final
 * destroy cut it.
 */
export function dropTornLinesBeforeSeparators(text: string): {
  text: string;
  torn: string[];
  last?: string;
} {
  const lines = text.split('\n');
  const torn: string[] = [];
  let last: string | undefined;
  let lastLine = lines.length - 1;
  while (lastLine > 0 && !lines[lastLine]) lastLine--;
  const kept = lines.filter((l, i) => {
    const next = lines[i + 1];
    const cut =
      (next?.startsWith('-- Boot ') || i === lastLine) &&
      l.includes('seq=') &&
      !/^seq=\d+ boot=[0-9a-f]{8}\r?$/.test(l);
    if (cut && i === lastLine) last = l;
    else if (cut) torn.push(l);
    return !cut;
  });
  return { text: kept.join('\n'), torn, ...(last === undefined ? {} : { last }) };
}

/** A whole sequence line at the end of a line (after a torn fragment, or the line itself). */
const SEQ_LINE_AT_END = /seq=\d+ boot=([0-9a-f]{8})\r?$/;

/**
 * Lines where the guest's boot token changes with no `-- Boot` separator since the previous boot's
 * last line: a boot boundary the store lost. A torn fragment running into a whole line of another
 * boot (`seq=000seq=00011102 boot=...`) counts, under the whole line's boot; a fragment with no
 * whole line in it (`seq=000236\r`) carries no boot and is not looked at here.
 */
export function bootChangesWithoutSeparator(text: string): string[] {
  const out: string[] = [];
  let last: string | undefined;
  let separated = false;
  for (const l of text.split('\n')) {
    if (l.startsWith('-- Boot ')) {
      separated = true;
      continue;
    }
    const boot = SEQ_LINE_AT_END.exec(l)?.[1];
    if (!boot) continue;
    if (last !== undefined && boot !== last && !separated) out.push(l);
    last = boot;
    separated = false;
  }
  return out;
}

/**
 * What a host's store holds for a domain, for a failure's log: every sidecar's origin and boots,
 * chain.json, sealed.json, domain.json.
 */
export function storeDump(host: LabHost, uuid: string): string {
  const d = host.outside(`${LAB_STORE}/${uuid}`);
  const out: string[] = [`store of ${uuid} on ${host.name}:`];
  const archive = join(d, 'archive');
  for (const f of existsSync(archive) ? readdirSync(archive).sort() : []) {
    if (!f.endsWith('.json') || f === 'index.jsonl') continue;
    const text = readFileSync(join(archive, f), 'utf8');
    try {
      const m = JSON.parse(text) as {
        reason: string;
        origin: { host?: string; path: string; ino: number; start: number; end: number };
        boots: { offset: number; id: string }[];
        sealedAt: string;
      };
      const boots = m.boots.map((b) => `${b.id}@${b.offset}`).join(',');
      out.push(
        `${f}: ${m.reason} ${m.origin.host ?? ''} ${m.origin.path} ino ${m.origin.ino} [${m.origin.start}, ${m.origin.end}) at ${m.sealedAt} boots ${boots}`,
      );
    } catch {
      out.push(`${f}: unreadable: ${text.slice(0, 80)}`);
    }
  }
  for (const f of ['chain.json', 'sealed.json', 'domain.json'])
    if (existsSync(join(d, f))) out.push(`${f}: ${readFileSync(join(d, f), 'utf8').slice(0, 3000)}`);
  return out.join('\n');
}

/** The lines of `text` around each of `wanted` (a failure's log: what came before and after). */
export function linesAround(text: string, wanted: readonly string[], radius = 3): string {
  const lines = text.split('\n');
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (!wanted.includes(l)) return;
    out.push(
      `line ${i + 1}:`,
      ...lines.slice(Math.max(0, i - radius), i + radius + 1).map((x) => `  ${JSON.stringify(x)}`),
    );
  });
  return out.join('\n');
}
