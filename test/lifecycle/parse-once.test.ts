// The hook parses the domain XML once (run.ts) and every handler reads that document: counted at the
// parser itself (fast-xml-parser's XMLParser.prototype.parse), by the calls that got the hook's input.
import test from 'ava';
import { XMLParser } from 'fast-xml-parser';
import { readJournal } from '../../src/journal/journal.js';
import { parseDomainDocument } from '../../src/xml/doc.js';
import { domainXml, hook, hookEnv, UUID } from './helpers.js';

const parses = new Map<string, number>();
const original = XMLParser.prototype.parse;
XMLParser.prototype.parse = function (this: XMLParser, ...args: unknown[]): unknown {
  const [input] = args;
  if (typeof input === 'string') parses.set(input, (parses.get(input) ?? 0) + 1);
  return Reflect.apply(original, this, args) as unknown;
} as typeof original;
test.after.always(() => {
  XMLParser.prototype.parse = original;
});

/** A pty serial without <log>: the rewrite changes it and the automatic mode wants the definition. */
const guest = (name: string) =>
  domainXml(
    `    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>`,
    name,
  );

async function run(event: string[], xml: string) {
  const { config, env } = hookEnv();
  // The automatic mode's detached job: an empty script, so the test starts no real CLI.
  const r = await hook({ ...env, VIRT_CONSOLELOG_CLI: '/dev/null' }, ['guest1', ...event], xml);
  return { ...r, config, count: parses.get(xml) ?? 0 };
}

test.serial('parsing the same text twice parses it twice: no cache hides in the parser', (t) => {
  const xml = guest('twice');
  const a = parseDomainDocument(xml);
  const b = parseDomainDocument(xml);
  t.not(a, b);
  t.is(parses.get(xml), 2);
});

test.serial('prepare begin (with the automatic mode) parses the XML once', async (t) => {
  const xml = guest('prepare1');
  const r = await run(['prepare', 'begin', '-'], xml);
  t.is(r.code, 0);
  t.is(r.stderr, '');
  t.is(r.count, 1);
  // The automatic mode's decision did run, on the same document.
  const notes = readJournal(r.config, { uuid: UUID }).flatMap((e) => e.notes);
  t.true(
    notes.some((n) => n.startsWith('auto-enable: job scheduled')),
    notes.join('\n'),
  );
});

for (const op of ['migrate', 'restore']) {
  test.serial(`${op} begin parses the XML once and rewrites it`, async (t) => {
    const xml = guest(`${op}1`);
    const r = await run([op, 'begin', '-'], xml);
    t.is(r.code, 0);
    t.regex(r.stdout, /<log file='[^']+' append='on'\/>/);
    t.is(r.count, 1);
  });
}

test.serial('release end parses the XML once', async (t) => {
  const xml = guest('release1');
  const r = await run(['release', 'end', 'destroyed'], xml);
  t.is(r.code, 0);
  t.is(r.count, 1);
});

test.serial('XML that does not parse: parsed once, the hook fails open as before', async (t) => {
  // Well-formed, so the parser itself sees it, but not a domain.
  const bad = `<network><name>n1</name><uuid>${UUID}</uuid></network>\n`;
  for (const op of ['migrate', 'restore']) {
    parses.delete(bad);
    const r = await run([op, 'begin', '-'], bad);
    t.is(r.code, 0);
    t.is(r.stdout, '', `${op}: nothing printed (XML unchanged)`);
    t.regex(r.stderr, /domain XML left unchanged: root element is <network>/);
    t.is(r.count, 1);
  }
  parses.delete(bad);
  const p = await run(['prepare', 'begin', '-'], bad);
  t.is(p.code, 0);
  t.regex(p.stderr, /domain XML not understood \(root element is <network>/);
  t.is(p.count, 1);
  parses.delete(bad);
  const s = await run(['release', 'end', 'destroyed'], bad);
  t.is(s.code, 0);
  t.is(s.count, 1);
});
