// migrate begin / restore begin: filled in by the XML rewrite work (issue 2).
import type { HandlerResult, HookContext } from './context.js';

export async function handleFilter(_ctx: HookContext): Promise<HandlerResult> {
  return {};
}
