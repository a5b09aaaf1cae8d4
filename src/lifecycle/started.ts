// started begin: filled in by the persistent-definition work (issue 9).
import type { HandlerResult, HookContext } from './context.js';

export async function handleStarted(_ctx: HookContext): Promise<HandlerResult> {
  return {};
}
