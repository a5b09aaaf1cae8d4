// migrate begin / restore begin: libvirt filters the domain XML through us (stdout = new XML,
// nothing = unchanged). Rewrite so every serial/console logs in append mode (src/xml/rewrite.ts).
import { getHostFacts } from '../host/facts.js';
import { XmlRewriteError, rewriteDomainXml } from '../xml/rewrite.js';
import type { HandlerResult, HookContext } from './context.js';

export async function handleFilter(ctx: HookContext): Promise<HandlerResult> {
  const mode = ctx.event.op === 'restore' ? 'restore' : 'migrate';
  const facts = await getHostFacts(ctx.config, ctx.xml);
  let result;
  try {
    result = rewriteDomainXml(ctx.xml, { config: ctx.config, facts, mode });
  } catch (e) {
    if (!(e instanceof XmlRewriteError)) throw e;
    // Bad input is reported and passed through unchanged: libvirt decides about it, not us.
    ctx.report(`domain XML left unchanged: ${e.message}`);
    return {};
  }
  for (const w of result.warnings) ctx.note(w);
  if (result.changed) {
    const logged = result.devices.filter((d) => d.logFile && !d.isSerialAlias).map((d) => d.device);
    ctx.note(
      `${mode}: XML rewritten on ${facts.host} (generation ${result.generation}; logged: ${logged.join(' ') || 'none'})`,
    );
  }

  // ---- HISTORY FETCH (migration work, issue on transfer) -----------------------------------
  // On `migrate begin` with result.previousHost set, the migration work starts the detached fetch
  // of the guest's earlier history here, e.g.:
  //   if (mode === 'migrate' && result.previousHost)
  //     startHistoryFetch(ctx, { uuid, previousHost: result.previousHost, generation: result.generation });
  // It must not block: detached child, stdio ignored, unref() (libvirt waits for our fds).
  // -------------------------------------------------------------------------------------------

  return result.changed ? { xml: result.xml } : {};
}
