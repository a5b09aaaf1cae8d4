// virt-consolelog list-domains: the names (or UUIDs, for a domain without one) of every domain of
// the store, one per line: for bash completion, which offers undefined and migrated-away domains
// too. Reads domain.json files only (no libvirt), so completion stays quick.
import { EXIT, type Command } from '../command.js';
import { expectPositionals } from '../options.js';
import { listStoreDomains } from '../show-all.js';
import { assertStoreReadable } from '../store-access.js';

export const listDomainsCommand: Command = {
  usage: `usage: virt-consolelog list-domains

Prints the name (or, without one, the UUID) of every domain in the store, one per line, sorted:
what bash completion offers besides libvirt's own domains.`,
  options: {},
  run(args, ctx) {
    expectPositionals(args, 0, 0, '');
    const { config } = ctx.config();
    assertStoreReadable(config);
    const names = new Set(listStoreDomains(config).map((d) => d.name ?? d.uuid));
    for (const n of [...names].sort()) ctx.io.stdout.write(n + '\n');
    return Promise.resolve(EXIT.ok);
  },
};
