// What every hook handler is given: configuration, where to report, and this event.
import type { Config } from '../config/schema.js';
import type { HookEvent } from './event.js';
import { parseDomainDocument, type DomainDocument } from '../xml/doc.js';

/** The domain XML parsed once by run.ts: the document, or what the parser threw. */
export type ParsedDomain = { doc: DomainDocument } | { error: unknown };

export interface HookContext {
  event: HookEvent;
  /** The domain XML libvirt wrote on stdin (for the fallbacks when it does not parse, and the journal). */
  xml: string;
  /** `xml` parsed once for all handlers: read it with domainOf(). */
  domain: ParsedDomain;
  config: Config;
  /** Reports a problem: goes to stderr (libvirt's log) and to the plugin's journal. */
  report(message: string): void;
  /** Reports what keeps this event from being logged as it should (nothing sealed, XML not
   * rewritten, a source refused): with `strict = 1` the operation then fails (exit 1). */
  fail(message: string): void;
  /** Things done, for the journal (one short line each). */
  note(message: string): void;
  /** Environment the hook was started with (minimal, as libvirt gives it). */
  env: NodeJS.ProcessEnv;
  now(): Date;
}

/** A handler's answer. `xml` is only used for migrate/restore: undefined = unchanged (print nothing). */
export interface HandlerResult {
  xml?: string;
}

export type Handler = (ctx: HookContext) => Promise<HandlerResult>;

/** Parses `xml` once; an error is kept for the handler that needs the document (it fails open there). */
export function parseDomain(xml: string): ParsedDomain {
  try {
    return { doc: parseDomainDocument(xml) };
  } catch (error) {
    return { error };
  }
}

/** The parsed domain XML; throws what the parser threw, as parsing it at this point would. */
export function domainOf(ctx: Pick<HookContext, 'domain'>): DomainDocument {
  if ('error' in ctx.domain) throw ctx.domain.error;
  return ctx.domain.doc;
}
