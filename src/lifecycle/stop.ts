// stopped end / release end: filled in by the store work (issue 4).
import type { HandlerResult, HookContext } from './context.js';

export async function handleStopped(_ctx: HookContext): Promise<HandlerResult> {
  return {};
}

export async function handleRelease(_ctx: HookContext): Promise<HandlerResult> {
  return {};
}
