import test from 'ava';
import { CONSOLELOG_NS, readConsolelogMetadata, writeConsolelogMetadata } from '../../src/xml/metadata.js';
import { domain, validate } from './helpers.js';

const OTHER = `
  <metadata>
    <app1:foo xmlns:app1="http://app1.org/app1/">..</app1:foo>
    <!-- keep me -->
  </metadata>`;

test('write then read: all fields round-trip; the document stays valid', async (t) => {
  const xml = domain('', { head: OTHER });
  const meta = { host: 'hosta', generation: 3, degraded: `QEMU 2.5 < 2.6 & "old"`, original: 'PHNlcmlhbC8+' };
  const out = writeConsolelogMetadata(xml, meta);
  t.deepEqual(readConsolelogMetadata(out), meta);
  t.is(await validate(out), undefined);
  t.true(
    out.includes(`    <app1:foo xmlns:app1="http://app1.org/app1/">..</app1:foo>
    <!-- keep me -->
    <vcl:consolelog xmlns:vcl='${CONSOLELOG_NS}'>
      <vcl:host name='hosta' generation='3'/>
      <vcl:degraded reason='QEMU 2.5 &lt; 2.6 &amp; "old"'/>
      <vcl:original>PHNlcmlhbC8+</vcl:original>
    </vcl:consolelog>
  </metadata>`),
    out,
  );
  // Only our element differs from the input.
  const ours = out.slice(
    out.indexOf('\n    <vcl:consolelog'),
    out.indexOf('</vcl:consolelog>') + '</vcl:consolelog>'.length,
  );
  t.is(out.replace(ours, ''), xml);
});

test('writing the same metadata again changes nothing; changing it replaces only our element', (t) => {
  const once = writeConsolelogMetadata(domain(''), { host: 'hosta', generation: 0 });
  t.is(writeConsolelogMetadata(once, { host: 'hosta', generation: 0 }), once);
  const moved = writeConsolelogMetadata(once, { host: 'hostb', generation: 1 });
  t.deepEqual(readConsolelogMetadata(moved), { host: 'hostb', generation: 1 });
  t.is(moved.replace(`name='hostb' generation='1'`, `name='hosta' generation='0'`), once);
});

test('<metadata> is created after <uuid> (where libvirt puts it); removing our element leaves it empty', async (t) => {
  const xml = domain('');
  const out = writeConsolelogMetadata(xml, { host: 'hosta', generation: 0 });
  t.regex(
    out,
    /<\/uuid>\n {2}<metadata>\n {4}<vcl:consolelog [^\n]*>\n {6}<vcl:host [^\n]*\/>\n {4}<\/vcl:consolelog>\n {2}<\/metadata>\n {2}<memory/,
  );
  t.is(await validate(out), undefined);
  const removed = writeConsolelogMetadata(out, {});
  t.is(removed, xml.replace('</uuid>', '</uuid>\n  <metadata>\n  </metadata>'));
  t.deepEqual(readConsolelogMetadata(removed), {});
});

test('self-closing <metadata/> is opened', async (t) => {
  const xml = domain('', { head: '\n  <metadata/>' });
  const out = writeConsolelogMetadata(xml, { host: 'h1', generation: 2 });
  t.deepEqual(readConsolelogMetadata(out), { host: 'h1', generation: 2 });
  t.is(await validate(out), undefined);
});

test('an element of another namespace with our local name is not ours', (t) => {
  const xml = domain('', {
    head: `
  <metadata>
    <x:consolelog xmlns:x="http://example.com/other"><x:host name="evil" generation="9"/></x:consolelog>
  </metadata>`,
  });
  t.deepEqual(readConsolelogMetadata(xml), {});
  const out = writeConsolelogMetadata(xml, { host: 'hosta', generation: 0 });
  t.true(
    out.includes(
      '<x:consolelog xmlns:x="http://example.com/other"><x:host name="evil" generation="9"/></x:consolelog>',
    ),
  );
  t.deepEqual(readConsolelogMetadata(out), { host: 'hosta', generation: 0 });
});

test('a bad generation reads as absent', (t) => {
  const xml = domain('', {
    head: `
  <metadata><vcl:consolelog xmlns:vcl='${CONSOLELOG_NS}'><vcl:host name='a' generation='-1'/></vcl:consolelog></metadata>`,
  });
  t.deepEqual(readConsolelogMetadata(xml), { host: 'a' });
});
