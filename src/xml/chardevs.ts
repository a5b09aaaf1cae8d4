// The character devices of a domain as the plugin sees them (pure): serials, consoles, parallel ports.
import { normaliseUuid } from '../store/layout.js';
import {
  XmlRewriteError,
  attrValue,
  child,
  childrenNamed,
  asDocument,
  type DomainDocument,
  type DomainXml,
  type Element,
} from './doc.js';

export interface ChardevInfo {
  /** 'serial0' | 'console1' | 'parallel0' ...: index among elements of that name (ARCHITECTURE.md "Devices"). */
  device: string;
  element: 'serial' | 'console' | 'parallel';
  /** Backend type attribute: file, pty, tcp, unix, udp, ... (libvirt's default when absent: pty). */
  type: string;
  /** `<source path=...>` (file/unix/dev/pipe). */
  sourcePath?: string;
  /** `<source append='on'>`. */
  sourceAppend?: boolean;
  /** `<log file=...>`. */
  logFile?: string;
  /** `<log append='on'>` (absent/off = truncating). */
  logAppend?: boolean;
  targetType?: string;
  /** x86-style `<console><target type='serial'/>`: not a device, an alias of serial0. */
  isSerialAlias: boolean;
}

/** A chardev with the elements the rewrite edits. */
export interface ChardevNode {
  info: ChardevInfo;
  el: Element;
  sources: Element[];
  log: Element | undefined;
}

const ELEMENTS = ['serial', 'console', 'parallel'] as const;

function isHvm(doc: DomainDocument): boolean {
  return child(child(doc.root, 'os'), 'type')?.text.trim() === 'hvm';
}

/** Where a chardev element sits: what its device name and alias status depend on. */
interface Position {
  element: ChardevInfo['element'];
  index: number;
  hvm: boolean;
  serials: number;
}

function chardevNode(el: Element, at: Position): ChardevNode {
  const { element, index } = at;
  const sources = childrenNamed(el, 'source');
  const source = sources.find((s) => attrValue(s, 'path') !== undefined) ?? sources[0];
  const log = child(el, 'log');
  const target = child(el, 'target');
  const targetType = target ? attrValue(target, 'type') : undefined;
  const info: ChardevInfo = {
    device: `${element}${index}`,
    element,
    type: attrValue(el, 'type') ?? 'pty',
    targetType,
    // libvirt (domain_conf.c, console compat): the first console of an HVM guest with target
    // type serial or none is always re-derived from serial0, whatever its own source says.
    isSerialAlias:
      element === 'console' &&
      index === 0 &&
      at.hvm &&
      at.serials > 0 &&
      (targetType === undefined || targetType === 'serial'),
  };
  const path = source ? attrValue(source, 'path') : undefined;
  if (path !== undefined) info.sourcePath = path;
  const sourceAppend = source ? attrValue(source, 'append') : undefined;
  if (sourceAppend !== undefined) info.sourceAppend = sourceAppend === 'on';
  if (log) {
    const file = attrValue(log, 'file');
    if (file !== undefined) info.logFile = file;
    info.logAppend = attrValue(log, 'append') === 'on';
  }
  if (targetType === undefined) delete info.targetType;
  return { info, el, sources, log };
}

export function chardevNodes(doc: DomainDocument): ChardevNode[] {
  const devices = childrenNamed(doc.root, 'devices');
  const counts: Record<string, number> = { serial: 0, console: 0, parallel: 0 };
  const serials = devices.reduce((n, d) => n + childrenNamed(d, 'serial').length, 0);
  const hvm = isHvm(doc);
  const out: ChardevNode[] = [];
  for (const dev of devices) {
    for (const el of dev.children) {
      const element = ELEMENTS.find((e) => e === el.name);
      if (!element) continue;
      const index = counts[element] ?? 0;
      counts[element] = index + 1;
      out.push(chardevNode(el, { element, index, hvm, serials }));
    }
  }
  return out;
}

/**
 * The chardev `node` describes, after its element was rewritten into `el` (same element name,
 * same place: the device name and alias status stay).
 */
export function rewrittenChardev(doc: DomainDocument, node: ChardevNode, el: Element): ChardevInfo {
  const serials = childrenNamed(doc.root, 'devices').reduce(
    (n, d) => n + childrenNamed(d, 'serial').length,
    0,
  );
  const index = Number(node.info.device.slice(node.info.element.length));
  return chardevNode(el, { element: node.info.element, index, hvm: isHvm(doc), serials }).info;
}

/** Serials, consoles and parallel ports in document order (channels are never listed). */
export function listChardevs(xml: DomainXml): ChardevInfo[] {
  return chardevNodes(asDocument(xml)).map((n) => n.info);
}

export function domainIdentity(doc: DomainDocument): { uuid: string; name: string } {
  const rawUuid = child(doc.root, 'uuid')?.text;
  if (rawUuid === undefined) throw new XmlRewriteError('the domain has no <uuid>: logs are kept by UUID');
  const uuid = normaliseUuid(rawUuid);
  if (!uuid) throw new XmlRewriteError(`<uuid> is not a UUID: ${JSON.stringify(rawUuid.trim())}`);
  return { uuid, name: (child(doc.root, 'name')?.text ?? '').trim() };
}

/** The domain's UUID (lower case, with dashes) and name. */
export function readDomainIdentity(xml: DomainXml): { uuid: string; name: string } {
  return domainIdentity(asDocument(xml));
}
