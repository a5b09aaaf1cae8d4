// Mutated corpus documents through the pure rewrite: it either refuses with XmlRewriteError or
// returns a document that parses, keeps every device, and is a fixed point. Nothing else, ever.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { listChardevs } from '../../src/xml/chardevs.js';
import { XmlRewriteError, rewriteDomainXml } from '../../src/xml/rewrite.js';
import { config, corpusDir, facts, oldFacts } from './helpers.js';

const SEED = Number(process.env.VCL_MUTATION_SEED ?? 20261122);
const ROUNDS = Number(process.env.VCL_MUTATIONS ?? 1500);

/** mulberry32: small seeded PRNG so a failure can be replayed with VCL_MUTATION_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  '<',
  '>',
  '&',
  '&amp;',
  '&#0;',
  '&#x1F600;',
  '"',
  "'",
  '/>',
  '<!--',
  '-->',
  '<![CDATA[x]]>',
  '<?pi x?>',
  '\r\n',
  '\n',
  '\t',
  ' ',
  '<serial/>',
  "<serial type='file'><source path='/var/log/libvirt/../../etc/x'/></serial>",
  "<console type='pty'><target type='serial'/></console>",
  "<log file='/tmp/x' append='off'/>",
  "<log file='relative' append='on'/>",
  '<source/>',
  '</serial>',
  '<metadata/>',
  "<vcl:consolelog xmlns:vcl='http://virt-consolelog.org/xmlns/consolelog/1.0'><vcl:host name='z' generation='x'/></vcl:consolelog>",
  '<!DOCTYPE x>',
  '\u00e9\u4e2d',
  '\uFEFF',
];

test(`${ROUNDS} mutated corpus documents: refused cleanly or rewritten to a valid fixed point`, (t) => {
  const rand = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const sources = readdirSync(corpusDir)
    .filter((f) => f.endsWith('.xml'))
    .map((f) => readFileSync(path.join(corpusDir, f), 'utf8'))
    .filter((x) => x.includes('<uuid>'));
  let refused = 0;
  let rewritten = 0;
  const bad: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let xml = pick(sources);
    for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
      const at = Math.floor(rand() * xml.length);
      const len = Math.floor(rand() * 12);
      const op = rand();
      if (op < 0.4) xml = xml.slice(0, at) + pick(TOKENS) + xml.slice(at);
      else if (op < 0.7) xml = xml.slice(0, at) + xml.slice(at + len);
      else xml = xml.slice(0, at) + xml.slice(at, at + len) + xml.slice(at);
    }
    const o = { config: config(), facts: rand() < 0.8 ? facts : oldFacts, mode: 'migrate' as const };
    try {
      const r = rewriteDomainXml(xml, o);
      rewritten++;
      const again = rewriteDomainXml(r.xml, o);
      if (again.xml !== r.xml) bad.push(`round ${round}: not idempotent`);
      if (listChardevs(r.xml).length !== listChardevs(xml).length)
        bad.push(`round ${round}: device count changed`);
    } catch (e) {
      if (e instanceof XmlRewriteError) refused++;
      else bad.push(`round ${round}: ${(e as Error).stack ?? String(e)}`);
    }
    if (bad.length > 5) break;
  }
  t.log(`seed ${SEED}: ${rewritten} rewritten, ${refused} refused`);
  t.true(rewritten > ROUNDS / 10 && refused > ROUNDS / 10, `${rewritten} rewritten, ${refused} refused`);
  t.deepEqual(bad, []);
});
