// Planning `enable` and `disable` of a persistent definition: XML text in, XML text out. Pure.
// The rewrite and our metadata are passed in (src/xml/ owns them) so this stays testable alone.
import { parseDomainDocument, splice, type DomainXml } from '../xml/doc.js';
import { captureOf, chardevElements, isNovaManaged, loggableDevices } from './devices.js';
import { decodeOriginal, encodeOriginal, makeOriginal, type OriginalRecord } from './original.js';

export interface DefinitionTools {
  /** The XML rewrite in 'define' mode (src/xml/rewrite.ts), bound to config and host facts. */
  rewrite(xml: DomainXml): { xml: string; changed: boolean; warnings?: string[] };
  /** Our `original` field (base64) if the XML carries our metadata with one; null if our metadata has none. */
  readOriginal(xml: DomainXml): string | null | undefined;
  /** Sets our metadata's `original` field, keeping the rest of it. */
  writeOriginal(xml: string, original: string): string;
  /** Removes our metadata element. */
  removeMetadata(xml: string): string;
}

export interface EnablePlan {
  xml: string;
  changed: boolean;
  /** Devices that are logged in append mode after the change. */
  devices: string[];
  nova: boolean;
  record: OriginalRecord;
  /** What the rewrite could not do as asked (e.g. a path outside allowed_roots moved into the store). */
  warnings: string[];
}

export interface DisablePlan {
  xml: string;
  changed: boolean;
  /** Why nothing changed (when changed is false). */
  reason?: string;
  restored: number;
}

export class PlanError extends Error {
  override name = 'PlanError';
}

/**
 * Rewrites a persistent definition so every serial/console logs in append mode, and records the
 * guest's own chardev elements the first time. Enabling an enabled definition changes nothing.
 */
export function planEnable(
  xml: string,
  tools: DefinitionTools,
  host: string,
  now: Date,
  rewriteParallel = false,
): EnablePlan {
  const doc = parseDomainDocument(xml);
  const existing = tools.readOriginal(doc);
  let record: OriginalRecord;
  if (existing) {
    // Keep the FIRST record: the elements now in the XML are ours, not the guest's.
    record = { ...decodeOriginal(existing), host };
  } else {
    record = makeOriginal(chardevElements(doc), host, now);
  }
  const result = tools.rewrite(doc);
  const out = tools.writeOriginal(result.xml, encodeOriginal(record));
  const devices = loggableDevices(out, rewriteParallel)
    .filter((d) => captureOf(d) === 'logged')
    .map((d) => d.device);
  return {
    xml: out,
    changed: out !== xml,
    devices,
    nova: isNovaManaged(doc),
    record,
    warnings: result.warnings ?? [],
  };
}

/** Puts back the chardev elements `enable` recorded, byte for byte, and removes our metadata. */
export function planDisable(xml: string, tools: DefinitionTools): DisablePlan {
  const doc = parseDomainDocument(xml);
  const existing = tools.readOriginal(doc);
  if (existing === undefined)
    return { xml, changed: false, reason: 'not enabled by virt-consolelog', restored: 0 };
  if (existing === null)
    throw new PlanError(
      'our metadata is present but holds no record of the original chardev elements ' +
        '(the definition came with a migration, not from enable): nothing to restore',
    );
  const record = decodeOriginal(existing);
  const spans = chardevElements(doc);
  const then = record.elements.map((e) => e.name).join(',');
  const now = spans.map((s) => s.name).join(',');
  if (then !== now)
    throw new PlanError(
      `the chardev devices changed since enable (then: ${then || 'none'}; now: ${now || 'none'}): ` +
        'restore them by hand with virsh edit',
    );
  const restored = splice(
    xml,
    spans.map((span, i) => ({
      start: span.start,
      end: span.end,
      text: record.elements[i]?.text ?? span.text,
    })),
  );
  // The record is text from the domain XML: it must come back as exactly those elements, nothing more.
  let check: string[];
  try {
    check = chardevElements(restored).map((e) => e.text);
  } catch (e) {
    throw new PlanError(`the recorded original elements do not parse: ${(e as Error).message}`);
  }
  if (check.join('\u0000') !== record.elements.map((e) => e.text).join('\u0000'))
    throw new PlanError('the recorded original elements are not well-formed chardev elements');
  const out = tools.removeMetadata(restored);
  return { xml: out, changed: out !== xml, restored: spans.length };
}
