// domain.json's pure helpers: which boot-marker ids count as boots (a guest cannot forge one).
import test from 'ava';
import {
  emptyDomainState,
  KNOWN_BOOTS,
  knownMarkerIds,
  readDomainStateText,
  withMarkers,
  withPeerMarkers,
} from '../../src/store/domain-state.js';

const U = '0f8fad5b-d9cb-469f-a165-70867728950e';

test("a peer's marker ids count as boots beside this store's own, each once", (t) => {
  const own = withMarkers(emptyDomainState(U), 'lab-a', ['a1']);
  const s = withPeerMarkers(own, ['b1', 'a1', 'b1', 'b2']);
  t.deepEqual(s.peerMarkers, ['b1', 'b2'], 'own and repeated ids not added');
  t.deepEqual([...knownMarkerIds(s)].sort(), ['a1', 'b1', 'b2']);
  t.is(withPeerMarkers(s, ['b2', 'a1']), s, 'nothing new: the same state');
  const full = withPeerMarkers(
    s,
    Array.from({ length: KNOWN_BOOTS }, (_, i) => `p${i}`),
  );
  t.is(full.peerMarkers?.length, KNOWN_BOOTS);
  t.is(full.peerMarkers?.at(-1), `p${KNOWN_BOOTS - 1}`, 'the oldest dropped');
});

test('peer marker ids round-trip through domain.json; a bad list makes it unreadable, not a crash', (t) => {
  const s = withPeerMarkers(emptyDomainState(U), ['b1']);
  t.deepEqual(readDomainStateText(U, JSON.stringify(s)).state.peerMarkers, ['b1']);
  const bad = readDomainStateText(U, JSON.stringify({ ...s, peerMarkers: [1] }));
  t.true(bad.unreadable);
  t.deepEqual(bad.state, emptyDomainState(U));
});
