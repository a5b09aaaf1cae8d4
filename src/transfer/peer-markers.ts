// The store side of a peer's boot-marker ids: a log in a folder both hosts see (an OpenStack
// instances folder on NFS) holds the markers the other host wrote at its starts; only ids the store
// knows count as boots (a guest cannot forge one), so a listing's ids are added to domain.json.
import type { Config } from '../config/schema.js';
import { knownMarkerIds, withPeerMarkers } from '../store/domain-state.js';
import { withStore } from '../store/session.js';
import type { Listing } from './protocol.js';

/**
 * Adds the listing's marker ids this store does not know yet; the number added. `seen`: ids a
 * fetch job already holds here, so polling a source takes the store lock only for new ones.
 */
export async function learnPeerMarkers(
  config: Config,
  uuid: string,
  listing: Listing,
  seen: Set<string>,
): Promise<number> {
  if (listing.markers.every((id) => seen.has(id))) return 0;
  return withStore(config, uuid, (s) => {
    const before = knownMarkerIds(s.domain).size;
    s.domain = withPeerMarkers(s.domain, listing.markers);
    const known = knownMarkerIds(s.domain);
    for (const id of known) seen.add(id);
    return known.size - before;
  });
}
