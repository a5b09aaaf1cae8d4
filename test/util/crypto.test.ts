// src/util/crypto.ts: node:crypto loaded on first use gives the same hashes and random bytes.
import test from 'ava';
import { createHash, randomBytes } from '../../src/util/crypto.js';

test('createHash is node:crypto sha256 (FIPS 180-2 test vectors), randomBytes gives fresh bytes', (t) => {
  t.is(
    createHash('sha256').update('abc').digest('hex'),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  );
  t.is(
    createHash('sha256').update('').digest('hex'),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  );
  const a = randomBytes(16);
  t.is(a.length, 16);
  t.notDeepEqual(a, randomBytes(16));
});
