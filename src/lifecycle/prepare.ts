// prepare begin: filled in by the store work (issue 4).
import type { HandlerResult, HookContext } from './context.js';

export async function handlePrepare(_ctx: HookContext): Promise<HandlerResult> {
  return {};
}
