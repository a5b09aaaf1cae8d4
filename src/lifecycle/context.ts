// What every hook handler is given: configuration, where to report, and this event.
import type { Config } from '../config/schema.js';
import type { HookEvent } from './event.js';

export interface HookContext {
  event: HookEvent;
  /** The domain XML libvirt wrote on stdin. */
  xml: string;
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
