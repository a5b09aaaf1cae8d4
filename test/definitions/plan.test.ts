import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, type Config } from '../../src/config/schema.js';
import { chardevElements } from '../../src/definitions/devices.js';
import { decodeOriginal, encodeOriginal, OriginalRecordError } from '../../src/definitions/original.js';
import { PlanError, planDisable, planEnable } from '../../src/definitions/plan.js';
import { definitionTools, readOriginal } from '../../src/definitions/tools.js';
import { readConsolelogMetadata, writeConsolelogMetadata } from '../../src/xml/metadata.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpus = path.resolve(repoRoot, '../shared/corpus/libvirt-tests');

const config: Config = { ...structuredClone(DEFAULTS), hostName: 'hosta' } as Config;
const facts = { host: 'hosta', canLogChardev: true };
const tools = definitionTools(config, facts);
const now = new Date('2026-01-02T03:04:05Z');
const UUID = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';

const ptyGuest = `<domain type='qemu'>
  <name>g1</name>
  <uuid>${UUID}</uuid>
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='pty'>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
  </devices>
</domain>
`;

const novaFileGuest = `<domain type="qemu">
  <name>instance-00000001</name>
  <uuid>${UUID}</uuid>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.0">
      <nova:name>vm1</nova:name>
    </nova:instance>
  </metadata>
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch="x86_64" machine="pc">hvm</type>
  </os>
  <devices>
    <serial type="file">
      <source path="/var/lib/nova/instances/${UUID}/console.log"/>
    </serial>
    <serial type="pty"/>
  </devices>
</domain>
`;

test('enable adds append-mode logs in the store and records the original chardev elements', (t) => {
  const plan = planEnable(ptyGuest, tools, 'hosta', now);
  t.true(plan.changed);
  t.deepEqual(plan.devices, ['serial0']);
  t.false(plan.nova);
  t.regex(plan.xml, new RegExp(`<log file='/var/log/libvirt/qemu/${UUID}.serial0.console' append='on'/>`));
  const record = decodeOriginal(readConsolelogMetadata(plan.xml).original ?? '');
  t.is(record.host, 'hosta');
  t.deepEqual(
    record.elements.map((e) => e.text),
    chardevElements(ptyGuest).map((e) => e.text),
  );
  // The channel and everything around the chardevs is untouched.
  t.true(
    plan.xml.includes("<channel type='unix'>\n      <target type='virtio' name='org.qemu.guest_agent.0'/>"),
  );
});

test('enable is idempotent: enabling an enabled definition changes nothing', (t) => {
  const once = planEnable(ptyGuest, tools, 'hosta', now);
  const twice = planEnable(once.xml, tools, 'hosta', new Date('2027-01-01T00:00:00Z'));
  t.false(twice.changed);
  t.is(twice.xml, once.xml);
});

test('disable restores the chardev elements byte for byte and removes our metadata', (t) => {
  for (const xml of [ptyGuest, novaFileGuest]) {
    const enabled = planEnable(xml, tools, 'hosta', now);
    const disabled = planDisable(enabled.xml, tools);
    t.true(disabled.changed);
    t.deepEqual(
      chardevElements(disabled.xml).map((e) => e.text),
      chardevElements(xml).map((e) => e.text),
    );
    t.is(readOriginal(disabled.xml), undefined);
    // Nothing else was left behind either: the whole document is back.
    t.is(disabled.xml, xml);
  }
});

test('enable on a second host keeps the first record (the guest own elements), with the new host', (t) => {
  const onA = planEnable(ptyGuest, tools, 'hosta', now);
  const toolsB = definitionTools({ ...config, hostName: 'hostb' }, { host: 'hostb', canLogChardev: true });
  const onB = planEnable(onA.xml, toolsB, 'hostb', now);
  t.true(onB.changed);
  t.regex(onB.xml, new RegExp(`<log file='/var/log/libvirt/qemu/${UUID}.serial0.console' append='on'/>`));
  t.is(readConsolelogMetadata(onB.xml).host, 'hostb');
  const record = decodeOriginal(readConsolelogMetadata(onB.xml).original ?? '');
  t.is(record.host, 'hostb');
  t.is(planDisable(onB.xml, toolsB).xml, ptyGuest);
});

test('Nova: the instance folder path is kept, truncation becomes append, the domain is recognised', (t) => {
  const plan = planEnable(novaFileGuest, tools, 'hosta', now);
  t.true(plan.nova);
  t.regex(plan.xml, new RegExp(`<log file="/var/lib/nova/instances/${UUID}/console.log" append="on"/>`));
  t.notRegex(plan.xml, /type="file"/);
  const logAppendOff = novaFileGuest
    .replace('<serial type="file">', '<serial type="pty">')
    .replace(
      `<source path="/var/lib/nova/instances/${UUID}/console.log"/>`,
      `<log file="/var/lib/nova/instances/${UUID}/console.log" append="off"/>`,
    );
  const plan2 = planEnable(logAppendOff, tools, 'hosta', now);
  t.regex(plan2.xml, new RegExp(`<log file="/var/lib/nova/instances/${UUID}/console.log" append="on"/>`));
  t.is(planDisable(plan2.xml, tools).xml, logAppendOff);
});

test('disable of a definition never enabled changes nothing and says why', (t) => {
  const plan = planDisable(ptyGuest, tools);
  t.false(plan.changed);
  t.is(plan.reason, 'not enabled by virt-consolelog');
});

test('disable refuses when the chardev devices changed since enable', (t) => {
  const enabled = planEnable(ptyGuest, tools, 'hosta', now).xml;
  const added = enabled.replace('    <console', "    <serial type='pty'/>\n    <console");
  const e = t.throws(() => planDisable(added, tools), { instanceOf: PlanError });
  t.regex(e?.message ?? '', /changed since enable/);
});

test('disable refuses a record that would inject anything but the chardev elements', (t) => {
  const enabled = planEnable(ptyGuest, tools, 'hosta', now).xml;
  const record = decodeOriginal(readOriginal(enabled) ?? '');
  const evil = {
    ...record,
    elements: record.elements.map((e, i) =>
      i === 0 ? { ...e, text: "<serial type='pty'/><hostdev mode='subsystem'/>" } : e,
    ),
  };
  const tampered = writeConsolelogMetadata(enabled, {
    ...readConsolelogMetadata(enabled),
    original: encodeOriginal(evil),
  });
  t.throws(() => planDisable(tampered, tools), { instanceOf: PlanError });
});

test('disable of a definition with our metadata but no record (came with a migration) is an error', (t) => {
  const migrated = writeConsolelogMetadata(ptyGuest, { host: 'hosta', generation: 1 });
  t.throws(() => planDisable(migrated, tools), { instanceOf: PlanError, message: /no record/ });
});

test('original records: malformed input is an error naming the problem', (t) => {
  t.throws(() => decodeOriginal('***'), { instanceOf: OriginalRecordError, message: /base64/ });
  t.throws(() => decodeOriginal(Buffer.from('{').toString('base64')), { message: /JSON/ });
  t.throws(() => decodeOriginal(Buffer.from('{"v":2}').toString('base64')), { message: /version/ });
  const bad = Buffer.from(
    JSON.stringify({ v: 1, host: 'h', at: 'x', elements: [{ name: 'disk', text: '<disk/>' }] }),
  );
  t.throws(() => decodeOriginal(bad.toString('base64')), { message: /not a chardev element/ });
});

test('corpus: disable(enable(x)) gives back every chardev element byte for byte; enable is idempotent', (t) => {
  const files = readdirSync(corpus).filter((f) => f.endsWith('.xml'));
  t.true(files.length > 20);
  let withChardevs = 0;
  for (const f of files) {
    const xml = readFileSync(path.join(corpus, f), 'utf8');
    let before;
    try {
      before = chardevElements(xml);
    } catch {
      continue; // not a domain document (the rewrite's own tests cover malformed input)
    }
    let enabled;
    try {
      enabled = planEnable(xml, tools, 'hosta', now);
    } catch (e) {
      t.log(`${f}: ${(e as Error).message}`);
      continue;
    }
    if (before.length) withChardevs++;
    t.false(planEnable(enabled.xml, tools, 'hosta', now).changed, `${f}: idempotent`);
    if (!enabled.changed) continue;
    const back = planDisable(enabled.xml, tools);
    t.deepEqual(
      chardevElements(back.xml).map((e) => e.text),
      before.map((e) => e.text),
      `${f}: chardevs restored`,
    );
    t.is(readOriginal(back.xml), undefined, `${f}: metadata removed`);
  }
  t.true(withChardevs > 10);
});
