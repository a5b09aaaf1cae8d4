// The plugin's own event journal: filled in by the store work (issue 4), rotating-file-stream.
import type { HookContext } from '../lifecycle/context.js';

export interface HookRunRecord {
  kind: string;
  ms: number;
  problems: string[];
  notes: string[];
  failed: boolean;
}

export async function recordHookRun(_ctx: HookContext, _record: HookRunRecord): Promise<void> {}
