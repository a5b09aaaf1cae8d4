// Our own element in the domain's <metadata> (pure): where the guest runs now, and its state.
import {
  appendChild,
  attrValue,
  child,
  escapeAttr,
  indentUnit,
  lineIndent,
  asDocument,
  removeElement,
  splice,
  type DomainDocument,
  type DomainXml,
  type Edit,
  type Element,
} from './doc.js';

export const CONSOLELOG_NS = 'http://virt-consolelog.org/xmlns/consolelog/1.0';
export const CONSOLELOG_PREFIX = 'vcl';

export interface ConsolelogMetadata {
  /** The host the guest runs on now. */
  host?: string;
  /** Migration generation: a destination sets incoming + 1. */
  generation?: number;
  /** Why this host cannot log the chardevs (logs stripped). */
  degraded?: string;
  /** base64 of the original chardev elements (written by `enable`). */
  original?: string;
}

/** Namespace URI of an element (its prefix resolved through itself and its ancestors). */
function namespaceOf(el: Element): { uri: string | undefined; local: string } {
  const colon = el.name.indexOf(':');
  const prefix = colon >= 0 ? el.name.slice(0, colon) : '';
  const local = colon >= 0 ? el.name.slice(colon + 1) : el.name;
  const decl = prefix ? `xmlns:${prefix}` : 'xmlns';
  for (let e: Element | undefined = el; e; e = e.parent) {
    const uri = attrValue(e, decl);
    if (uri !== undefined) return { uri, local };
  }
  return { uri: undefined, local };
}

function ours(el: Element, local: string): boolean {
  const ns = namespaceOf(el);
  return ns.uri === CONSOLELOG_NS && ns.local === local;
}

export function metadataElement(doc: DomainDocument): Element | undefined {
  return child(doc.root, 'metadata');
}

export function consolelogElement(doc: DomainDocument): Element | undefined {
  return metadataElement(doc)?.children.find((c) => ours(c, 'consolelog'));
}

export function readMetadataOf(doc: DomainDocument): ConsolelogMetadata {
  const el = consolelogElement(doc);
  const meta: ConsolelogMetadata = {};
  if (!el) return meta;
  const host = el.children.find((c) => ours(c, 'host'));
  if (host) {
    const name = attrValue(host, 'name');
    if (name !== undefined) meta.host = name;
    const gen = attrValue(host, 'generation');
    if (gen !== undefined && /^\d{1,9}$/.test(gen.trim())) meta.generation = Number(gen.trim());
  }
  const degraded = el.children.find((c) => ours(c, 'degraded'));
  if (degraded) meta.degraded = attrValue(degraded, 'reason') ?? '';
  const original = el.children.find((c) => ours(c, 'original'));
  if (original) meta.original = original.text.replace(/\s+/g, '');
  return meta;
}

export function readConsolelogMetadata(xml: DomainXml): ConsolelogMetadata {
  return readMetadataOf(asDocument(xml));
}

function sameMetadata(a: ConsolelogMetadata, b: ConsolelogMetadata): boolean {
  return (
    a.host === b.host &&
    a.generation === b.generation &&
    a.degraded === b.degraded &&
    a.original === b.original
  );
}

function isEmpty(m: ConsolelogMetadata): boolean {
  return (
    m.host === undefined && m.generation === undefined && m.degraded === undefined && m.original === undefined
  );
}

/** Our element as text; continuation lines start with `indent` (the element's own indentation). */
function formatConsolelog(
  meta: ConsolelogMetadata,
  quote: '"' | "'",
  indent: string | undefined,
  unit: string,
  eol: string,
): string {
  const q = (v: string) => `${quote}${escapeAttr(v, quote)}${quote}`;
  const p = CONSOLELOG_PREFIX;
  const parts: string[] = [];
  if (meta.host !== undefined || meta.generation !== undefined) {
    const name = meta.host !== undefined ? ` name=${q(meta.host)}` : '';
    const gen = meta.generation !== undefined ? ` generation=${q(String(meta.generation))}` : '';
    parts.push(`<${p}:host${name}${gen}/>`);
  }
  if (meta.degraded !== undefined) parts.push(`<${p}:degraded reason=${q(meta.degraded)}/>`);
  if (meta.original !== undefined)
    parts.push(`<${p}:original>${escapeAttr(meta.original, quote)}</${p}:original>`);
  const open = `<${p}:consolelog xmlns:${p}=${q(CONSOLELOG_NS)}>`;
  const close = `</${p}:consolelog>`;
  if (indent === undefined) return open + parts.join('') + close;
  return [open, ...parts.map((x) => indent + unit + x), indent + close].join(eol);
}

/** Edits that make the document carry `meta` (none when it already does). */
export function metadataEdits(doc: DomainDocument, meta: ConsolelogMetadata): Edit[] {
  const { src, root } = doc;
  const existing = consolelogElement(doc);
  if (sameMetadata(readMetadataOf(doc), meta) && (existing || isEmpty(meta))) return [];
  if (isEmpty(meta)) return existing ? [removeElement(src, existing)] : [];
  const quote = root.attrs[0]?.quote ?? "'";
  const unit = indentUnit(doc);
  if (existing) {
    const text = formatConsolelog(meta, quote, lineIndent(src, existing.start), unit, doc.eol);
    return [{ start: existing.start, end: existing.end, text }];
  }
  const metadata = metadataElement(doc);
  const rootIndent = lineIndent(src, root.start);
  if (metadata) {
    const mdIndent = lineIndent(src, metadata.start);
    const first = metadata.children[0];
    const childIndent =
      (first ? lineIndent(src, first.start) : undefined) ??
      (mdIndent !== undefined ? mdIndent + unit : undefined);
    return appendChild(doc, metadata, formatConsolelog(meta, quote, childIndent, unit, doc.eol), 'last');
  }
  // No <metadata>: create it where libvirt itself formats it, after name/uuid/genid/title/description.
  const anchors = root.children.filter((c) =>
    ['name', 'uuid', 'genid', 'title', 'description'].includes(c.name),
  );
  const anchor = anchors[anchors.length - 1];
  const mdIndent =
    (anchor ? lineIndent(src, anchor.start) : undefined) ??
    (rootIndent !== undefined && root.children[0] ? lineIndent(src, root.children[0].start) : undefined);
  const inner = formatConsolelog(
    meta,
    quote,
    mdIndent !== undefined ? mdIndent + unit : undefined,
    unit,
    doc.eol,
  );
  const md =
    mdIndent !== undefined
      ? `<metadata>${doc.eol}${mdIndent + unit}${inner}${doc.eol}${mdIndent}</metadata>`
      : `<metadata>${inner}</metadata>`;
  return appendChild(doc, root, md, anchor ?? 'first');
}

/** Writes our metadata element; everything else stays byte-identical. */
export function writeConsolelogMetadata(xml: DomainXml, meta: ConsolelogMetadata): string {
  const doc = asDocument(xml);
  return splice(doc.src, metadataEdits(doc, meta));
}
