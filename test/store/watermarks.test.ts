import test from 'ava';
import { emptySealState, parseSealState } from '../../src/store/watermarks.js';

test('parseSealState: missing file is empty; unrecorded seals are checked field by field', (t) => {
  t.deepEqual(parseSealState(undefined), emptySealState());
  const u = { key: '000000-00000003-hosta', host: 'hosta', bytes: 6, head: 'ab', sha256: 'cd' };
  const ok = { version: 1, nextSeq: 4, files: [], unrecorded: [u] };
  t.deepEqual(parseSealState(JSON.stringify(ok)), ok);
  for (const bad of [
    null,
    'x',
    { ...u, bytes: 0 },
    { ...u, bytes: -1 },
    { ...u, host: 3 },
    { ...u, sha256: null },
  ])
    t.is(parseSealState(JSON.stringify({ ...ok, unrecorded: [bad] })), undefined, JSON.stringify(bad));
  t.is(parseSealState(JSON.stringify({ ...ok, unrecorded: {} })), undefined);
  t.is(parseSealState('{"truncated": '), undefined);
});
