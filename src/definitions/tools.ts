// Binds the pure planning to the XML rewrite and our metadata (src/xml/), for one host.
import type { Config } from '../config/schema.js';
import { asDocument, parseDomainDocument, removeElement, splice, type DomainXml } from '../xml/doc.js';
import { metadataElement, readConsolelogMetadata, writeConsolelogMetadata } from '../xml/metadata.js';
import { rewriteDomainXml, type HostFacts } from '../xml/rewrite.js';
import type { DefinitionTools } from './plan.js';
import type { StateOptions } from './state.js';

/** Our `original` field: the value, null when our metadata has none, undefined without our metadata. */
export function readOriginal(xml: DomainXml): string | null | undefined {
  const meta = readConsolelogMetadata(xml);
  if (meta.original) return meta.original;
  return Object.values(meta).some((v) => v !== undefined) ? null : undefined;
}

export function definitionTools(config: Config, facts: HostFacts): DefinitionTools {
  return {
    rewrite: (xml) => rewriteDomainXml(xml, { config, facts, mode: 'define' }),
    readOriginal,
    writeOriginal: (xml, original) => {
      const doc = asDocument(xml);
      return writeConsolelogMetadata(doc, { ...readConsolelogMetadata(doc), original });
    },
    removeMetadata: (xml) => dropEmptyMetadata(writeConsolelogMetadata(xml, {})),
  };
}

export function stateOptions(config: Config): StateOptions {
  return { rewriteParallel: config.rewriteParallel, readOriginal };
}

/** An empty <metadata> (ours was its only child) goes too: libvirt would keep it as noise. */
export function dropEmptyMetadata(xml: string): string {
  const doc = parseDomainDocument(xml);
  const md = metadataElement(doc);
  if (!md || md.children.length || md.text.trim() || /<!--|<!\[CDATA\[/.test(xml.slice(md.start, md.end)))
    return xml;
  return splice(xml, [removeElement(xml, md)]);
}
