// domain.json: what the store knows about a domain apart from its content: names seen (the UUID
// is the key, names are metadata), per host the live sources from the last XML, the current boot
// per device, the generation, and the last event. Pure helpers; I/O is in store.ts.

export interface BootRef {
  id: string;
  host: string;
  /** ISO time the boot was prepared. */
  at: string;
}

export interface DeviceState {
  /** Live source: the `<log file>` or the file backend's path, as in the last XML seen. */
  path: string;
  /** `log` = a `<log>` element (virtlogd); `file` = a `type='file'` backend (QEMU writes). */
  kind: 'log' | 'file';
  /** The last start opened it with truncation (append off). */
  truncating: boolean;
  /** The boot prepared last on this host for this device. */
  boot?: BootRef;
}

export interface HostState {
  generation: number;
  devices: Record<string, DeviceState>;
  lastEvent?: { kind: string; at: string; reason?: string };
  /** Why capture is degraded on this host (paths refused, XML unparsable...), from the last event. */
  degraded?: string[];
  /** Ids of the boot markers this host wrote, oldest first (the last KNOWN_BOOTS): a marker line is
   * only a boot when its id is here, so a guest cannot forge one by printing the format. */
  markers?: string[];
}

export const KNOWN_BOOTS = 2000;

/** Every boot-marker id the plugin wrote for this domain, on any host (a peer's, through a fetch). */
export function knownMarkerIds(state: DomainState): Set<string> {
  const ids = new Set<string>(state.peerMarkers);
  for (const h of Object.values(state.hosts)) for (const id of h.markers ?? []) ids.add(id);
  return ids;
}

export interface DomainState {
  version: 1;
  uuid: string;
  names: { name: string; firstSeen: string; lastSeen: string }[];
  maxGeneration: number;
  hosts: Record<string, HostState>;
  /** Marker ids other hosts' stores know (learnt from their listings, oldest first, the last
   * KNOWN_BOOTS): their markers in a log both hosts see (shared instances folder) are boots here too. */
  peerMarkers?: string[];
}

export function emptyDomainState(uuid: string): DomainState {
  return { version: 1, uuid, names: [], maxGeneration: 0, hosts: {} };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isGeneration = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function isBootRef(v: unknown): v is BootRef {
  return isObject(v) && isStr(v.id) && isStr(v.host) && isStr(v.at);
}

function isHostState(v: unknown): v is HostState {
  return (
    isObject(v) &&
    isGeneration(v.generation) &&
    isObject(v.devices) &&
    Object.values(v.devices).every(
      (d) =>
        isObject(d) &&
        isStr(d.path) &&
        (d.kind === 'log' || d.kind === 'file') &&
        typeof d.truncating === 'boolean' &&
        (d.boot === undefined || isBootRef(d.boot)),
    ) &&
    (v.markers === undefined || (Array.isArray(v.markers) && v.markers.every(isStr))) &&
    (v.degraded === undefined || (Array.isArray(v.degraded) && v.degraded.every(isStr))) &&
    (v.lastEvent === undefined || (isObject(v.lastEvent) && isStr(v.lastEvent.kind) && isStr(v.lastEvent.at)))
  );
}

/** Parses domain.json; a corrupt one (one bad field included) is an empty state, never a crash. */
/** domain.json as read: `unreadable` when a file was there but could not be used (state reset). */
export function readDomainStateText(
  uuid: string,
  text: string | undefined,
): { state: DomainState; unreadable: boolean } {
  if (text === undefined) return { state: emptyDomainState(uuid), unreadable: false };
  try {
    const v: unknown = JSON.parse(text);
    if (
      !isObject(v) ||
      v.version !== 1 ||
      !isGeneration(v.maxGeneration) ||
      !Array.isArray(v.names) ||
      !v.names.every((n) => isObject(n) && isStr(n.name) && isStr(n.firstSeen) && isStr(n.lastSeen)) ||
      !isObject(v.hosts) ||
      !Object.values(v.hosts).every(isHostState) ||
      !(v.peerMarkers === undefined || (Array.isArray(v.peerMarkers) && v.peerMarkers.every(isStr)))
    )
      return { state: emptyDomainState(uuid), unreadable: true };
    return { state: { ...(v as unknown as DomainState), uuid }, unreadable: false };
  } catch {
    // A corrupt domain.json loses only metadata (names, last sources): content is in the files.
    return { state: emptyDomainState(uuid), unreadable: true };
  }
}

export function parseDomainState(uuid: string, text: string | undefined): DomainState {
  return readDomainStateText(uuid, text).state;
}

export function noteName(state: DomainState, name: string, now: Date): DomainState {
  const at = now.toISOString();
  const names = state.names.filter((n) => n.name !== name);
  const old = state.names.find((n) => n.name === name);
  names.push({ name, firstSeen: old?.firstSeen ?? at, lastSeen: at });
  return { ...state, names };
}

/** The name a domain was last seen with. */
export function currentName(state: DomainState): string | undefined {
  return [...state.names].sort((a, b) => (a.lastSeen < b.lastSeen ? -1 : 1)).at(-1)?.name;
}

export function hostState(state: DomainState, host: string): HostState {
  return state.hosts[host] ?? { generation: state.maxGeneration, devices: {} };
}

/** The host's known marker ids with `ids` added (once each, oldest dropped past KNOWN_BOOTS). */
export function withMarkers(state: DomainState, host: string, ids: string[]): DomainState {
  const h = hostState(state, host);
  const known = h.markers ?? [];
  const added = ids.filter((id, i) => !known.includes(id) && ids.indexOf(id) === i);
  if (!added.length) return state;
  return withHost(state, host, { ...h, markers: [...known, ...added].slice(-KNOWN_BOOTS) });
}

/** `ids` a peer's store knows, added to the peer markers (once each, oldest dropped past KNOWN_BOOTS). */
export function withPeerMarkers(state: DomainState, ids: readonly string[]): DomainState {
  const known = knownMarkerIds(state);
  const added = ids.filter((id, i) => !known.has(id) && ids.indexOf(id) === i);
  if (!added.length) return state;
  return { ...state, peerMarkers: [...(state.peerMarkers ?? []), ...added].slice(-KNOWN_BOOTS) };
}

export function withHost(state: DomainState, host: string, h: HostState): DomainState {
  return {
    ...state,
    hosts: { ...state.hosts, [host]: h },
    maxGeneration: Math.max(state.maxGeneration, h.generation),
  };
}
