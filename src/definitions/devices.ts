// What each serial/console/parallel of a domain XML does with its output, and where its element
// lies in the text (so `disable` can put the original bytes back). Pure; built on src/xml/.
import { chardevNodes, listChardevs, type ChardevInfo } from '../xml/chardevs.js';
import { metadataElement } from '../xml/metadata.js';
import { asDocument, type DomainXml, type Element } from '../xml/doc.js';

export type { ChardevInfo };

/** A chardev element's exact text and place in the document. */
export interface ChardevElement {
  info: ChardevInfo;
  name: string;
  start: number;
  end: number;
  text: string;
}

export function chardevElements(xml: DomainXml): ChardevElement[] {
  const doc = asDocument(xml);
  return chardevNodes(doc).map((n) => ({
    info: n.info,
    name: n.info.element,
    start: n.el.start,
    end: n.el.end,
    text: doc.src.slice(n.el.start, n.el.end),
  }));
}

/** How a device's output is kept across QEMU restarts. */
export type Capture = 'logged' | 'file-append' | 'truncating' | 'not-logged';

export function captureOf(d: ChardevInfo): Capture {
  if (d.logFile !== undefined) return d.logAppend ? 'logged' : 'truncating';
  if (d.type === 'file') return d.sourceAppend ? 'file-append' : 'truncating';
  return 'not-logged';
}

/** The devices the rewrite is responsible for: serials, real consoles, parallels if configured. */
export function loggableDevices(xml: DomainXml, rewriteParallel: boolean): ChardevInfo[] {
  return listChardevs(xml).filter((d) => !d.isSerialAlias && (d.element !== 'parallel' || rewriteParallel));
}

/** Prefix of Nova's metadata namespace (nova/virt/libvirt/config.py NOVA_NS: .../nova/1.0, newer 1.1). */
export const NOVA_NS_PREFIX = 'http://openstack.org/xmlns/libvirt/nova/';

/** Nova marks every domain it generates with its own element in <metadata>. */
export function isNovaManaged(xml: DomainXml): boolean {
  const md = metadataElement(asDocument(xml));
  const declares = (el: Element): boolean =>
    el.attrs.some(
      (a) => (a.name === 'xmlns' || a.name.startsWith('xmlns:')) && a.value.startsWith(NOVA_NS_PREFIX),
    );
  return md !== undefined && md.children.some(declares);
}
