// `status`: what a management layer's reader (Nova's) sees of each log read in place on this host.
import type { Config } from '../config/schema.js';
import { hostState, type DomainState } from '../store/domain-state.js';
import { openParentSafely } from '../store/files.js';
import { HistoryError, openHistory } from '../history/reader.js';
import { comparePos, endOf, startOf, tailBytesStart } from '../history/merge.js';
import { chainNames, novaView, readInPlace } from './plan.js';
import { isOurs, readChainState } from './layout.js';

export interface ReaderChainStatus {
  device: string;
  path: string;
  /** Bytes Nova's reader returns (at most 100 KiB) and the files it reads, newest first. */
  bytes: number;
  files: string[];
  /** Of those, files the plugin wrote (earlier history). */
  chainFiles: string[];
  /** Boots of the history that the newest `bytes` bytes reach into. */
  boots: number;
}

export async function readerChainStatus(
  config: Config,
  uuid: string,
  state: DomainState,
): Promise<ReaderChainStatus[]> {
  const out: ReaderChainStatus[] = [];
  const records = readChainState(config, uuid);
  for (const [device, d] of Object.entries(hostState(state, config.hostName).devices)) {
    if (!readInPlace(config, d.path)) continue;
    const opened = openParentSafely(config, d.path);
    if (!('dir' in opened)) continue;
    const sizes = new Map<string, number>();
    const chainFiles: string[] = [];
    try {
      for (const name of [opened.name, ...chainNames(opened.name, opened.dir.list()).map((n) => n.name)]) {
        const st = opened.dir.lstat(name);
        if (!st?.isFile()) continue;
        sizes.set(name, st.size);
        if (isOurs(records, st, config.hostName)) chainFiles.push(name);
      }
    } finally {
      opened.dir.close();
    }
    const view = novaView(opened.name, sizes);
    let boots = 0;
    try {
      const h = await openHistory(config, uuid, device);
      try {
        const end = endOf(h.pieces);
        const from = tailBytesStart(h.pieces, view.bytes, startOf(h.pieces), end);
        boots = view.bytes ? h.boots.filter((b) => comparePos(b.to, from) > 0).length : 0;
      } finally {
        h.close();
      }
    } catch (e) {
      if (!(e instanceof HistoryError)) throw e;
    }
    out.push({
      device,
      path: d.path,
      bytes: view.bytes,
      files: view.files,
      chainFiles: chainFiles.filter((f) => view.files.includes(f)),
      boots,
    });
  }
  return out;
}

export function formatReaderChain(c: ReaderChainStatus): string {
  const ours = c.chainFiles.length ? `, ${c.chainFiles.join(', ')} laid out from the store` : '';
  return `  reader chain (Nova) ${c.device}: ${c.bytes} bytes from ${c.files.join(', ') || 'no file'} (${c.boots} boot(s))${ours}`;
}
