// libvirt's qemu hook argv (docs/LIBVIRT-FACTS.md): HOOK <domain> <op> <subop> <extra...>.

export interface HookEvent {
  domain: string;
  op: string;
  subop: string;
  /** 4th argument: shutoff reason on `release end` since libvirt 10.5 ("from snapshot" is one element); "-" otherwise. */
  extra: string;
}

/**
 * What the plugin does with an event; everything else exits 0 at once. `started begin` and
 * `stopped end` are ignored on purpose: each would cost a Node start in every guest start or stop
 * (BENCHMARKS.md); `prepare begin` schedules the automatic mode's job and `release end` seals.
 */
export type EventKind = 'filter' | 'prepare' | 'release' | 'ignored';

export function parseHookArgv(argv: readonly string[]): HookEvent | undefined {
  const [domain, op, subop, ...rest] = argv;
  if (domain === undefined || op === undefined) return undefined;
  return { domain, op, subop: subop ?? '-', extra: rest.length ? rest.join(' ') : '-' };
}

export function classifyEvent(event: HookEvent | undefined): EventKind {
  if (!event) return 'ignored';
  switch (`${event.op} ${event.subop}`) {
    case 'migrate begin':
    case 'restore begin':
      return 'filter';
    case 'prepare begin':
      return 'prepare';
    case 'release end':
      return 'release';
    default:
      // reconnect begin above all: a failure there kills the running guest.
      return 'ignored';
  }
}
