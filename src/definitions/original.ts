// The record `enable` keeps of a guest's own chardev elements, so `disable` can give them back
// byte for byte. Stored base64-encoded in our metadata (`<vcl:original>`, src/xml/metadata.ts).

export interface OriginalRecord {
  /** Format version of this record. */
  v: 1;
  /** Host that enabled the definition: a definition carried to another host is enabled again there. */
  host: string;
  /** ISO time of the first enable. */
  at: string;
  /** The chardev elements as they were, in document order, exact text. */
  elements: { name: string; text: string }[];
}

export class OriginalRecordError extends Error {
  override name = 'OriginalRecordError';
}

export function makeOriginal(
  elements: readonly { name: string; text: string }[],
  host: string,
  at: Date,
): OriginalRecord {
  return {
    v: 1,
    host,
    at: at.toISOString(),
    elements: elements.map((e) => ({ name: e.name, text: e.text })),
  };
}

export function encodeOriginal(record: OriginalRecord): string {
  const { v, host, at, elements } = record;
  return Buffer.from(JSON.stringify({ v, host, at, elements }), 'utf8').toString('base64');
}

/** Decodes and checks a record; anything malformed is an error naming the problem. */
export function decodeOriginal(base64: string): OriginalRecord {
  const compact = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new OriginalRecordError('original record is not base64');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(compact, 'base64').toString('utf8'));
  } catch {
    throw new OriginalRecordError('original record is not valid JSON');
  }
  const r = value as Partial<OriginalRecord> | null;
  if (!r || typeof r !== 'object' || r.v !== 1)
    throw new OriginalRecordError('original record has an unknown version');
  if (typeof r.host !== 'string' || typeof r.at !== 'string' || !Array.isArray(r.elements))
    throw new OriginalRecordError('original record lacks host, at or elements');
  for (const e of r.elements) {
    if (!e || typeof e.name !== 'string' || typeof e.text !== 'string')
      throw new OriginalRecordError('original record has a malformed element');
    if (!['serial', 'console', 'parallel'].includes(e.name) || !e.text.startsWith(`<${e.name}`))
      throw new OriginalRecordError(`original record element <${e.name}> is not a chardev element`);
  }
  return { v: 1, host: r.host, at: r.at, elements: r.elements };
}
