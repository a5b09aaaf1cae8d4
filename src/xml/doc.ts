// Locating elements in domain XML and splicing edits into the original text (pure).
// fast-xml-parser finds the elements and their source spans; edits are spliced into the
// original string so everything outside them stays byte-identical.
// Long: the parser's element positions and the splice helpers must agree on every offset.
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** Malformed or hostile domain XML; the message names the problem. */
export class XmlRewriteError extends Error {
  override name = 'XmlRewriteError';
}

export interface Attr {
  name: string;
  /** Decoded value. */
  value: string;
  quote: '"' | "'";
  /** Span of ` name='value'` including the whitespace before it. */
  start: number;
  end: number;
  valueStart: number;
  valueEnd: number;
}

export interface Element {
  name: string;
  start: number;
  end: number;
  /** Index just after the `>` of the start tag. */
  startTagEnd: number;
  selfClosing: boolean;
  attrs: Attr[];
  children: Element[];
  parent: Element | undefined;
  /** Raw text pieces directly inside (decoded), in order; comments left out. */
  text: string;
}

export interface DomainDocument {
  src: string;
  root: Element;
  /** Line ending the document uses ("\r\n" or "\n"), for lines we add. */
  eol: string;
}

// Typed as the global Symbol object in the .d.ts; it is a unique symbol at run time.
const META = XMLParser.getMetaDataSymbol() as unknown as typeof _METADATA;
declare const _METADATA: unique symbol;
const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  captureMetaData: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  trimValues: false,
  commentPropName: '#comment',
  cdataPropName: '#cdata',
});

// Characters XML 1.0 forbids (libxml2, and so libvirt, rejects them).
const BAD_CHAR =
  // eslint-disable-next-line no-control-regex -- these are exactly the characters to refuse
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function lineCol(src: string, index: number): string {
  const before = src.slice(0, index);
  const line = before.split('\n').length;
  return `line ${line}, column ${index - before.lastIndexOf('\n')}`;
}

/** Decodes the five predefined entities and character references; anything else is refused. */
export function decodeEntities(raw: string, src = raw, at = 0): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&<\s]*);?/g, (m, name: string, offset: number) => {
    const where = () => lineCol(src, at + offset);
    if (!m.endsWith(';')) throw new XmlRewriteError(`bare "&" at ${where()}`);
    switch (name) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'apos':
        return "'";
      case 'quot':
        return '"';
    }
    const num = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(name);
    if (num) {
      const code = num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2]);
      const ch = code <= 0x10ffff ? String.fromCodePoint(code) : '';
      if (!ch || BAD_CHAR.test(ch))
        throw new XmlRewriteError(`invalid character reference ${m} at ${where()}`);
      return ch;
    }
    throw new XmlRewriteError(
      `undefined entity ${m} at ${where()} (domain XML has no DTD, only the predefined entities exist)`,
    );
  });
}

/** Escapes a value for an attribute quoted with `quote`. */
export function escapeAttr(value: string, quote: '"' | "'"): string {
  const s = value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return quote === "'" ? s.replace(/'/g, '&apos;') : s.replace(/"/g, '&quot;');
}

const NAME_PART = '[\\p{L}_][\\p{L}\\p{N}\\p{Mn}\\p{Mc}_.\\-\\u00B7]*';
const QNAME = new RegExp(`^${NAME_PART}(?::${NAME_PART})?$`, 'u');
// A domain XML repeats a few dozen names thousands of times: each is tested once.
const qnames = new Map<string, boolean>();
function isQName(name: string): boolean {
  let ok = qnames.get(name);
  if (ok === undefined) {
    ok = QNAME.test(name);
    if (qnames.size < 10_000) qnames.set(name, ok);
  }
  return ok;
}
/** What ends a stretch of a tag's text: a quote, its end, or a "<" that must not be there. */
const SPECIAL = /["'<>]/g;

/**
 * Safety pass over the raw text before any parser sees it: no DOCTYPE or other markup
 * declaration (libvirt never emits one; entity expansion attacks live there), no "<" inside
 * attribute values, no undefined entities, no characters XML forbids.
 */
function screen(src: string): void {
  const bad = BAD_CHAR.exec(src);
  if (bad)
    throw new XmlRewriteError(
      `character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')} not allowed in XML at ${lineCol(src, bad.index)}`,
    );
  let i = 0;
  const n = src.length;
  let prefixes: Set<string> | undefined;
  const declared = () =>
    (prefixes ??= new Set([...src.matchAll(/\sxmlns:([^\s=]+)\s*=/g)].map((m) => m[1] ?? '')));
  const expectEnd = (from: number, close: string, what: string): number => {
    const j = src.indexOf(close, from);
    if (j < 0) throw new XmlRewriteError(`${what} not closed (opened at ${lineCol(src, from)})`);
    return j + close.length;
  };
  while (i < n) {
    const lt = src.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const text = src.slice(i, textEnd);
      const cdataEnd = text.indexOf(']]>');
      if (cdataEnd >= 0) throw new XmlRewriteError(`"]]>" in text at ${lineCol(src, i + cdataEnd)}`);
      decodeEntities(text, src, i);
    }
    if (lt < 0) break;
    if (src.startsWith('<!--', lt)) {
      i = expectEnd(lt + 4, '-->', 'comment');
      // libxml2 (libvirt's parser) refuses "--" inside a comment: so must we, or libvirt fails the migration.
      if (src.slice(lt + 4, i - 3).includes('--') || src[i - 4] === '-')
        throw new XmlRewriteError(`"--" inside a comment at ${lineCol(src, lt)}`);
    } else if (src.startsWith('<![CDATA[', lt)) i = expectEnd(lt + 9, ']]>', 'CDATA section');
    else if (src.startsWith('<?', lt)) {
      // The XML declaration (and any PI target "xml") may only open the document.
      if (
        /^<\?[Xx][Mm][Ll](?=[\s?])/.test(src.slice(lt, lt + 6)) &&
        src.slice(0, lt).replace(/^\ufeff/, '') !== ''
      )
        throw new XmlRewriteError(`XML declaration not at the start of the document (${lineCol(src, lt)})`);
      i = expectEnd(lt + 2, '?>', 'processing instruction');
    } else if (src.startsWith('<!', lt)) {
      const word = /^<!([A-Za-z]*)/.exec(src.slice(lt, lt + 20))?.[1] ?? '';
      throw new XmlRewriteError(
        `${word ? `<!${word}>` : 'markup declaration'} at ${lineCol(src, lt)} is not accepted: domain XML has no DTD (entity declarations are refused)`,
      );
    } else {
      // A tag: skip quoted attribute values, refusing "<" and undefined entities inside them.
      let j = lt + 1;
      let unquoted = '';
      for (;;) {
        SPECIAL.lastIndex = j;
        const m = SPECIAL.exec(src);
        if (!m) throw new XmlRewriteError(`tag not closed (opened at ${lineCol(src, lt)})`);
        const k = m.index;
        unquoted += src.slice(j, k);
        const c = m[0];
        if (c === '"' || c === "'") {
          const close = src.indexOf(c, k + 1);
          if (close < 0) throw new XmlRewriteError(`attribute value not closed at ${lineCol(src, k)}`);
          const value = src.slice(k + 1, close);
          const lti = value.indexOf('<');
          if (lti >= 0)
            throw new XmlRewriteError(`"<" inside an attribute value at ${lineCol(src, k + 1 + lti)}`);
          decodeEntities(value, src, k + 1);
          j = close + 1;
        } else if (c === '>') {
          j = k + 1;
          break;
        } else {
          throw new XmlRewriteError(`"<" inside a tag at ${lineCol(src, k)}`);
        }
      }
      // Element and attribute names must be QNames (libxml2 refuses ":x", "x:", "a:b:c" as namespace errors).
      const names = [
        /^\/?([^\s/>=]*)/.exec(unquoted)?.[1] ?? '',
        ...(unquoted.includes('=') ? [...unquoted.matchAll(/([^\s=/]+)\s*=/g)].map((m) => m[1] ?? '') : []),
      ];
      for (const name of names) {
        if (!isQName(name))
          throw new XmlRewriteError(`${JSON.stringify(name)} is not an XML name (${lineCol(src, lt)})`);
        // A prefix declared nowhere in the document is a namespace error for libxml2 (scope is not checked here).
        const colon = name.indexOf(':');
        const prefix = colon > 0 ? name.slice(0, colon) : undefined;
        if (prefix && prefix !== 'xml' && prefix !== 'xmlns' && !declared().has(prefix))
          throw new XmlRewriteError(`namespace prefix "${prefix}" is not declared (${lineCol(src, lt)})`);
      }
      i = j;
    }
  }
}

/** Reads the start tag at `start`: its attributes with their spans, and where it ends. */
function readStartTag(src: string, start: number): { attrs: Attr[]; end: number; selfClosing: boolean } {
  const nameMatch = /^<[^\s/>]+/.exec(src.slice(start, start + 300));
  if (!nameMatch) throw new XmlRewriteError(`expected a start tag at ${lineCol(src, start)}`);
  const attrs: Attr[] = [];
  const re = /(\s+)([^\s=/>]+)(\s*=\s*)(["'])/y;
  let i = start + nameMatch[0].length;
  for (;;) {
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) break;
    const quote = m[4] as '"' | "'";
    const valueStart = i + m[0].length;
    const valueEnd = src.indexOf(quote, valueStart);
    if (valueEnd < 0) throw new XmlRewriteError(`attribute value not closed at ${lineCol(src, valueStart)}`);
    attrs.push({
      name: m[2] ?? '',
      value: decodeEntities(src.slice(valueStart, valueEnd), src, valueStart),
      quote,
      start: i,
      end: valueEnd + 1,
      valueStart,
      valueEnd,
    });
    i = valueEnd + 1;
  }
  const close = /\s*(\/?)>/y;
  close.lastIndex = i;
  const m = close.exec(src);
  if (!m) throw new XmlRewriteError(`malformed start tag at ${lineCol(src, start)}`);
  return { attrs, end: close.lastIndex, selfClosing: m[1] === '/' };
}

type FxpNode = Record<string, unknown> & { [META]?: { startIndex?: number; endIndex?: number } };

function build(nodes: FxpNode[], src: string, parent: Element | undefined, out: Element[]): void {
  for (const node of nodes) {
    const key = Object.keys(node).find((k) => k !== ':@');
    if (!key || key === '#text' || key === '#comment' || key === '#cdata' || key.startsWith('?')) {
      if (parent && key === '#text') parent.text += decodeEntities(String(node[key] ?? ''));
      if (parent && key === '#cdata') {
        for (const c of node[key] as FxpNode[]) parent.text += String(c['#text'] ?? '');
      }
      continue;
    }
    const meta = node[META];
    if (meta?.startIndex === undefined || meta.endIndex === undefined)
      throw new XmlRewriteError(`parser gave no position for <${key}>`);
    const tag = readStartTag(src, meta.startIndex);
    const el: Element = {
      name: key,
      start: meta.startIndex,
      end: meta.endIndex,
      startTagEnd: tag.end,
      selfClosing: tag.selfClosing,
      attrs: tag.attrs,
      children: [],
      parent,
      text: '',
    };
    if (src.slice(el.start, el.start + key.length + 1) !== `<${key}`)
      throw new XmlRewriteError(`parser position mismatch for <${key}> at ${lineCol(src, el.start)}`);
    out.push(el);
    build(node[key] as FxpNode[], src, el, el.children);
  }
}

/** Domain XML as text, or already parsed (the hook parses its input once: src/lifecycle/run.ts). */
export type DomainXml = string | DomainDocument;

/** The document of `xml`: parsed now when it is text. */
export function asDocument(xml: DomainXml): DomainDocument {
  return typeof xml === 'string' ? parseDomainDocument(xml) : xml;
}

/** The text of `xml`. */
export function sourceOf(xml: DomainXml): string {
  return typeof xml === 'string' ? xml : xml.src;
}

/** Parses domain XML: one `<domain>` root, no DTD; throws XmlRewriteError naming the problem. */
export function parseDomainDocument(src: string): DomainDocument {
  if (typeof src !== 'string' || src.trim() === '')
    throw new XmlRewriteError('empty input: expected domain XML');
  screen(src);
  const valid = XMLValidator.validate(src);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new XmlRewriteError(`malformed XML at line ${line}, column ${col}: ${msg}`);
  }
  let tree: FxpNode[];
  try {
    tree = parser.parse(src) as FxpNode[];
  } catch (e) {
    throw new XmlRewriteError(`malformed XML: ${(e as Error).message}`);
  }
  const top: Element[] = [];
  build(tree, src, undefined, top);
  if (top.length !== 1) throw new XmlRewriteError(`expected one root element, found ${top.length}`);
  const root = top[0] as Element;
  if (root.name !== 'domain') throw new XmlRewriteError(`root element is <${root.name}>, expected <domain>`);
  return { src, root, eol: src.includes('\r\n') ? '\r\n' : '\n' };
}

export function attr(el: Element, name: string): Attr | undefined {
  return el.attrs.find((a) => a.name === name);
}

export function attrValue(el: Element, name: string): string | undefined {
  return attr(el, name)?.value;
}

export function child(el: Element | undefined, name: string): Element | undefined {
  return el?.children.find((c) => c.name === name);
}

export function childrenNamed(el: Element | undefined, name: string): Element[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** Whitespace before `index` back to the start of its line, if only whitespace is there. */
export function lineIndent(src: string, index: number): string | undefined {
  const nl = src.lastIndexOf('\n', index - 1);
  const lead = src.slice(nl + 1, index);
  return nl >= 0 && /^[ \t]*$/.test(lead) ? lead : undefined;
}

export interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Edits made inside one element (`owner`; the root for elements added to or removed from it). */
export interface EditGroup {
  owner: Element;
  edits: Edit[];
}

function delta(e: Edit): number {
  return e.text.length - (e.end - e.start);
}

/** The namespace declarations of `elements` as written (the first one of each name wins). */
function declarations(doc: DomainDocument, elements: Element[]): string {
  const seen = new Map<string, string>();
  for (const el of elements)
    for (const a of el.attrs)
      if ((a.name === 'xmlns' || a.name.startsWith('xmlns:')) && !seen.has(a.name))
        seen.set(a.name, doc.src.slice(a.start, a.end));
  return [...seen.values()].join('');
}

/** The namespace declarations in scope inside `el` from its ancestors (innermost first), for checking it alone. */
function scopeDeclarations(doc: DomainDocument, el: Element): string {
  const ancestors: Element[] = [];
  for (let p = el.parent; p; p = p.parent) ancestors.push(p);
  return declarations(doc, ancestors);
}

/** Parses `content` as the only content of a `<domain>` with the given declarations: the full checks, on a fragment. */
function parseFragment(decls: string, content: string, what: string): Element[] {
  try {
    return parseDomainDocument(`<domain${decls}>${content}</domain>`).root.children;
  } catch (e) {
    throw new XmlRewriteError(`${what}: ${(e as Error).message}`);
  }
}

/**
 * Checks `out` = splice(doc.src, all edits) without parsing all of it again. Everything outside the
 * edited elements is the original text, checked when `doc` was parsed, and replacing an element by a
 * well-formed one keeps a document well-formed: so each edited element is parsed again on its own
 * (with the namespace declarations in scope), and text added to or removed from the root must be whole
 * elements. Returns each owner element as it is in `out`. Throws XmlRewriteError naming the problem.
 */
export function checkEdits(
  doc: DomainDocument,
  groups: readonly EditGroup[],
  out: string,
): Map<Element, Element> {
  const all = groups.flatMap((g) => g.edits.map((e) => ({ e, owner: g.owner })));
  const result = new Map<Element, Element>();
  for (const { owner, edits } of groups) {
    if (!edits.length) continue;
    if (owner === doc.root) {
      // Whole elements (and the whitespace around them) added or removed between the root's children.
      const decls = declarations(doc, [doc.root]);
      for (const e of edits) {
        parseFragment(decls, e.text, 'text added to <domain>');
        parseFragment(decls, doc.src.slice(e.start, e.end), 'text removed from <domain>');
      }
      continue;
    }
    for (const e of edits)
      if (e.start < owner.start || e.end > owner.end)
        throw new Error(`internal: an edit of <${owner.name}> lies outside it (${e.start}-${e.end})`);
    // Edits of other owners before this one shift it in `out` (no two owners overlap).
    const before = all
      .filter((x) => x.owner !== owner && x.e.start <= owner.start && x.e.end <= owner.start)
      .reduce((n, x) => n + delta(x.e), 0);
    const start = owner.start + before;
    const end = start + owner.end - owner.start + edits.reduce((n, e) => n + delta(e), 0);
    const parsed = parseFragment(
      scopeDeclarations(doc, owner),
      out.slice(start, end),
      `rewritten <${owner.name}>`,
    );
    const again = parsed[0];
    if (parsed.length !== 1 || again?.name !== owner.name)
      throw new XmlRewriteError(`rewritten <${owner.name}> is not one <${owner.name}> element`);
    result.set(owner, again);
  }
  return result;
}

/** Applies non-overlapping edits to `src`; insertions (start == end) at one place keep their order. */
export function splice(src: string, edits: readonly Edit[]): string {
  const sorted = edits
    .map((e, seq) => ({ ...e, seq }))
    .sort((a, b) => a.start - b.start || a.end - a.start - (b.end - b.start) || a.seq - b.seq);
  let out = '';
  let pos = 0;
  for (const e of sorted) {
    if (e.start < pos) throw new Error(`internal: overlapping XML edits at ${e.start}`);
    out += src.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return out + src.slice(pos);
}

/** An edit removing `el`, and its whole line when it stands alone on one. */
export function removeElement(src: string, el: Element): Edit {
  const indent = lineIndent(src, el.start);
  const rest = /^[ \t]*(?=\r?\n|$)/.exec(src.slice(el.end, el.end + 200));
  if (indent !== undefined && rest) {
    const nl = el.start - indent.length - 1;
    return { start: src[nl - 1] === '\r' ? nl - 1 : nl, end: el.end + rest[0].length, text: '' };
  }
  return { start: el.start, end: el.end, text: '' };
}

/** The indentation step of the document (from the root's first child), default two spaces. */
export function indentUnit(doc: DomainDocument): string {
  const first = doc.root.children[0];
  const ind = first ? lineIndent(doc.src, first.start) : undefined;
  const rootInd = lineIndent(doc.src, doc.root.start) ?? '';
  if (ind && ind.length > rootInd.length && ind.startsWith(rootInd)) return ind.slice(rootInd.length);
  return '  ';
}

/**
 * Edits that add `childXml` as the last child of `el` (or first, when `first`), on its own line
 * when the document is indented. Turns a self-closing element into an open/close pair.
 */
export function appendChild(
  doc: DomainDocument,
  el: Element,
  childXml: string,
  where: 'first' | 'last' | Element | number,
): Edit[] {
  const { src, eol } = doc;
  const elIndent = lineIndent(src, el.start);
  const unit = indentUnit(doc);
  const firstChild = el.children[0];
  const childIndent =
    (firstChild ? lineIndent(src, firstChild.start) : undefined) ??
    (elIndent !== undefined ? elIndent + unit : undefined);
  if (el.selfClosing) {
    // `<x a='b'/>` -> `<x a='b'>` + child + `</x>`
    const slash = src.lastIndexOf('/', el.startTagEnd - 1);
    const ws = /\s*$/.exec(src.slice(el.start, slash))?.[0].length ?? 0;
    const inner =
      childIndent !== undefined && elIndent !== undefined
        ? `${eol}${childIndent}${childXml}${eol}${elIndent}`
        : childXml;
    return [{ start: slash - ws, end: el.end, text: `>${inner}</${el.name}>` }];
  }
  const text = childIndent !== undefined ? `${eol}${childIndent}${childXml}` : childXml;
  if (where === 'first') return [{ start: el.startTagEnd, end: el.startTagEnd, text }];
  if (typeof where === 'number') return [{ start: where, end: where, text }];
  if (where !== 'last') return [{ start: where.end, end: where.end, text }];
  // Last: after everything inside (comments included), before the closing tag's own line.
  const closeAt = src.lastIndexOf('</', el.end - 1);
  const inner = src.slice(el.startTagEnd, closeAt);
  if (inner === '' && childIndent !== undefined && elIndent !== undefined)
    return [
      { start: el.startTagEnd, end: closeAt, text: `${eol}${childIndent}${childXml}${eol}${elIndent}` },
    ];
  const at = el.startTagEnd + inner.trimEnd().length;
  return [{ start: at, end: at, text }];
}

/** An edit setting attribute `name` of `el` to `value`: in place, or added (first or last). */
export function setAttr(el: Element, name: string, value: string, position: 'first' | 'last' = 'last'): Edit {
  const a = attr(el, name);
  if (a) return { start: a.valueStart, end: a.valueEnd, text: escapeAttr(value, a.quote) };
  const q = el.attrs[0]?.quote ?? "'";
  const last = el.attrs[el.attrs.length - 1];
  const at = position === 'last' && last ? last.end : el.start + 1 + el.name.length;
  return { start: at, end: at, text: ` ${name}=${q}${escapeAttr(value, q)}${q}` };
}
