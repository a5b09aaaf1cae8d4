// Every XML of libvirt's own test data (../shared/corpus/libvirt-tests) through the rewrite.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chardevNodes, listChardevs } from '../../src/xml/chardevs.js';
import { child, parseDomainDocument, removeElement, splice, type Element } from '../../src/xml/doc.js';
import { consolelogElement } from '../../src/xml/metadata.js';
import {
  addDomainUuid,
  rewriteDomainXml,
  type HostFacts,
  type RewriteResult,
} from '../../src/xml/rewrite.js';
import { config, corpusDir, facts, oldFacts, validate, validateMany } from './helpers.js';

const FALLBACK_UUID = '0f0e0d0c-0b0a-0908-0706-050403020100';

interface Case {
  file: string;
  input: string;
  /** Input as rewritten (with a <uuid> added first when the file has none). */
  base: string;
  result: RewriteResult;
}

const files = [
  ...readdirSync(corpusDir).filter((f) => f.endsWith('.xml')),
  ...readdirSync(path.join(corpusDir, 'no-chardev'))
    .filter((f) => f.endsWith('.xml'))
    .map((f) => `no-chardev/${f}`),
].sort();

function run(f: HostFacts): Case[] {
  return files.map((file) => {
    const input = readFileSync(path.join(corpusDir, file), 'utf8');
    const opts = { config: config(), facts: f, mode: 'migrate' as const };
    let base = input;
    // libvirt generates a UUID when a file has none; the rewrite needs one to place logs.
    if (!child(parseDomainDocument(input).root, 'uuid')) base = addDomainUuid(input, FALLBACK_UUID);
    return { file, input, base, result: rewriteDomainXml(base, opts) };
  });
}

const capable = run(facts);
const degraded = run(oldFacts);

/** The document without its chardev elements and our metadata (and a <metadata> we created). */
function outside(xml: string, createdMetadata: boolean): string {
  const doc = parseDomainDocument(xml);
  const spans = chardevNodes(doc).map((n) => removeElement(xml, n.el));
  const md = child(doc.root, 'metadata');
  const ours = consolelogElement(doc);
  if (createdMetadata && md) spans.push(removeElement(xml, md));
  else if (ours) spans.push(removeElement(xml, ours));
  return splice(xml, spans);
}

/** target, model, address and alias of each chardev, as text. */
function untouchable(xml: string): string[] {
  const doc = parseDomainDocument(xml);
  return chardevNodes(doc).flatMap((n) =>
    n.el.children
      .filter((c: Element) => ['target', 'address', 'alias', 'model'].includes(c.name))
      .map((c: Element) => `${n.info.device}: ${xml.slice(c.start, c.end)}`),
  );
}

test('corpus: the corpus is there and holds chardev and no-chardev files', (t) => {
  t.true(files.length >= 160, `found ${files.length} files in ${corpusDir}`);
  t.true(files.filter((f) => f.startsWith('no-chardev/')).length >= 20);
  t.true(capable.filter((c) => c.result.changed).length >= 50, 'most chardev files change');
});

for (const [label, cases] of [
  ['capable host', capable],
  ['host without log support', degraded],
] as const) {
  test(`corpus (${label}): rewrite is idempotent`, (t) => {
    const f = label === 'capable host' ? facts : oldFacts;
    const bad = cases
      .filter(
        (c) =>
          rewriteDomainXml(c.result.xml, { config: config(), facts: f, mode: 'migrate' }).xml !==
          c.result.xml,
      )
      .map((c) => c.file);
    t.deepEqual(bad, []);
  });

  test(`corpus (${label}): the devices the rewrite reports are those of its output, parsed whole`, (t) => {
    // The rewrite checks only the elements it edited (checkEdits): the full parse must agree.
    const bad = cases
      .filter((c) => JSON.stringify(c.result.devices) !== JSON.stringify(listChardevs(c.result.xml)))
      .map((c) => c.file);
    t.deepEqual(bad, []);
  });

  test(`corpus (${label}): files without chardevs come back byte-identical`, (t) => {
    const noChardev = cases.filter(
      (c) =>
        c.file.startsWith('no-chardev/') ||
        chardevNodes(parseDomainDocument(c.input)).filter((n) => n.info.element !== 'parallel').length === 0,
    );
    t.true(noChardev.length >= 26);
    t.deepEqual(
      noChardev.filter((c) => c.result.xml !== c.input || c.result.changed).map((c) => c.file),
      [],
    );
  });

  test(`corpus (${label}): outside chardev elements and our metadata nothing changed; no device added or removed`, (t) => {
    const bad: string[] = [];
    for (const c of cases) {
      const created = !child(parseDomainDocument(c.base).root, 'metadata') && c.result.changed;
      if (outside(c.base, false) !== outside(c.result.xml, created))
        bad.push(`${c.file}: outside text differs`);
      const before = chardevNodes(parseDomainDocument(c.base)).map(
        (n) => `${n.info.device}/${n.info.isSerialAlias}`,
      );
      const after = c.result.devices.map((d) => `${d.device}/${d.isSerialAlias}`);
      if (before.join() !== after.join()) bad.push(`${c.file}: devices ${before} -> ${after}`);
      if (untouchable(c.base).join('\n') !== untouchable(c.result.xml).join('\n'))
        bad.push(`${c.file}: target/model/address/alias changed`);
    }
    t.deepEqual(bad, []);
  });
}

test('corpus (capable host): every serial and real console logs in append mode, in one place per device', (t) => {
  const bad: string[] = [];
  for (const c of capable) {
    const paths = new Set<string>();
    for (const d of c.result.devices) {
      if (d.element === 'parallel') continue;
      if (!d.logFile || !d.logAppend) bad.push(`${c.file}: ${d.device} has no append-mode log`);
      if (d.isSerialAlias) {
        const s0 = c.result.devices.find((x) => x.device === 'serial0');
        if (s0?.logFile !== d.logFile || s0?.type !== d.type)
          bad.push(`${c.file}: console alias differs from serial0`);
      } else if (d.logFile) {
        if (paths.has(d.logFile)) bad.push(`${c.file}: ${d.logFile} used twice`);
        paths.add(d.logFile);
      }
      if (d.type === 'file') bad.push(`${c.file}: ${d.device} still type='file'`);
    }
  }
  t.deepEqual(bad, []);
});

test('corpus (host without log support): no serial or console keeps a <log>', (t) => {
  const bad = degraded.flatMap((c) =>
    c.result.devices
      .filter((d) => d.element !== 'parallel' && d.logFile)
      .map((d) => `${c.file}: ${d.device}`),
  );
  t.deepEqual(bad, []);
});

test('corpus: output passes virt-xml-validate wherever the input does', async (t) => {
  const jobs = [...capable, ...degraded].filter((c) => c.result.xml !== c.input);
  const bases = [...new Set(jobs.map((c) => c.base))];
  const [inputFailures, outputFailures] = await Promise.all([
    validateMany(bases),
    validateMany(jobs.map((c) => c.result.xml)),
  ]);
  const invalidInputs = new Set([...inputFailures.keys()].map((i) => bases[i]));
  const bad = [...outputFailures]
    .filter(([i]) => !invalidInputs.has(jobs[i]?.base)) // input itself invalid: nothing to hold the output to
    .map(([i, err]) => `${jobs[i]?.file}: ${err}`);
  t.true(jobs.length >= 100, `${jobs.length} rewritten documents validated`);
  t.true(invalidInputs.size <= 2, `only a couple of corpus inputs are invalid (${invalidInputs.size})`);
  t.deepEqual(bad, []);
});

test('corpus: the batch validator agrees with virt-xml-validate FILE domain', async (t) => {
  // One valid and one invalid document through both: proves validateMany checks the same thing.
  const ok = capable.find((c) => c.file === 'serial-file-log.xml') as Case;
  const broken = ok.result.xml.replace("append='on'", "append='maybe'");
  const many = await validateMany([ok.result.xml, broken]);
  t.deepEqual([...many.keys()], [1]);
  t.is(await validate(ok.result.xml), undefined);
  t.not(await validate(broken), undefined);
});
