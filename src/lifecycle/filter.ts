// migrate begin / restore begin: libvirt filters the domain XML through us (stdout = new XML,
// nothing = unchanged). Rewrite so every serial/console logs in append mode (src/xml/rewrite.ts).
import { getHostFacts } from '../host/facts.js';
import { XmlRewriteError, rewriteDomainXml } from '../xml/rewrite.js';
import { markIncomingMigration } from '../transfer/start.js';
import { startHistoryFetch } from './history-fetch.js';
import { readDomainIdentity } from '../xml/chardevs.js';
import { domainOf, type HandlerResult, type HookContext } from './context.js';

export async function handleFilter(ctx: HookContext): Promise<HandlerResult> {
  const mode = ctx.event.op === 'restore' ? 'restore' : 'migrate';
  const facts = await getHostFacts(ctx.config, 'doc' in ctx.domain ? ctx.domain.doc : undefined);
  let result;
  try {
    result = rewriteDomainXml(domainOf(ctx), { config: ctx.config, facts, mode });
  } catch (e) {
    if (!(e instanceof XmlRewriteError)) throw e;
    // Bad input is reported and passed through unchanged: libvirt decides about it, not us.
    ctx.fail(`domain XML left unchanged: ${e.message}`);
    return {};
  }
  for (const w of result.warnings) ctx.note(w);
  if (result.changed) {
    const logged = result.devices.filter((d) => d.logFile && !d.isSerialAlias).map((d) => d.device);
    ctx.note(
      `${mode}: XML rewritten on ${facts.host} (generation ${result.generation}; logged: ${logged.join(' ') || 'none'})`,
    );
  }

  // History fetch (src/transfer/start.ts): record + detached job; never blocks on the network.
  if (mode === 'migrate') {
    try {
      await startHistoryFetch(ctx, result);
    } catch (e) {
      ctx.report(`history fetch not started: ${(e as Error).message}`);
    }
  } else {
    // The restored guest continues its saved boot: prepare begin must not mark a new one. A state
    // write that fails must not cost the rewrite (it would if it reached run.ts's fail-open).
    try {
      markIncomingMigration(ctx.config, readDomainIdentity(domainOf(ctx)).uuid, ctx.now());
    } catch (e) {
      ctx.report(`restore not marked as continuing its boot: ${(e as Error).message}`);
    }
  }

  return result.changed ? { xml: result.xml } : {};
}
