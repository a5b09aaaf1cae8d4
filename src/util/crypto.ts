// node:crypto, loaded when something first hashes: loading it costs ~5 ms of every run, and `show`
// and most commands hash nothing (BENCHMARKS.md). Nodes without process.getBuiltinModule (before
// 20.16: Debian 12's 18) load it at once, as a static import did, so that a start-up snapshot holds it.
import type * as Crypto from 'node:crypto';

type CryptoModule = typeof Crypto;

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundles give every file a require
const loadNow = (): CryptoModule => require('node:crypto') as CryptoModule;

let loaded: CryptoModule | undefined = typeof process.getBuiltinModule === 'function' ? undefined : loadNow();

function cryptoModule(): CryptoModule {
  return (loaded ??= process.getBuiltinModule('node:crypto'));
}

export function createHash(algorithm: 'sha256'): Crypto.Hash {
  return cryptoModule().createHash(algorithm);
}

export function randomBytes(size: number): Buffer {
  return cryptoModule().randomBytes(size);
}
