import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDomain, type HookContext } from '../../src/lifecycle/context.js';
import { handleFilter } from '../../src/lifecycle/filter.js';
import { listChardevs } from '../../src/xml/chardevs.js';
import { config, domain, live, validate } from '../xml/helpers.js';

const dirs: string[] = [];
test.after.always(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function ctx(op: string, xml: string) {
  const state = await mkdtemp(path.join(tmpdir(), 'vcl-filter-'));
  dirs.push(state);
  const reports: string[] = [];
  const notes: string[] = [];
  const c: HookContext = {
    event: { domain: 'guest1', op, subop: 'begin', extra: '-' },
    xml,
    domain: parseDomain(xml),
    config: config({ stateDir: state }),
    report: (m) => reports.push(m),
    fail: (m) => reports.push(m),
    note: (m) => notes.push(m),
    env: {},
    now: () => new Date(),
  };
  return { c, reports, notes };
}

const fileSerial = domain(`    <serial type='file'>
      <source path='/var/lib/libvirt/qemu/guest1-serial.log'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='/var/lib/libvirt/qemu/guest1-serial.log'/>
      <target type='serial' port='0'/>
    </console>
    <console type='pty'>
      <target type='virtio' port='1'/>
    </console>`);

for (const op of ['migrate', 'restore']) {
  test(`${op} begin: returns the rewritten XML`, async (t) => {
    const { c, reports, notes } = await ctx(op, fileSerial);
    const r = await handleFilter(c);
    t.truthy(r.xml);
    t.deepEqual(reports, []);
    t.is(await validate(r.xml as string), undefined);
    t.deepEqual(
      listChardevs(r.xml as string).map((d) => [d.device, d.type, d.logFile, d.logAppend]),
      [
        ['serial0', 'pty', '/var/lib/libvirt/qemu/guest1-serial.log', true],
        ['console0', 'pty', '/var/lib/libvirt/qemu/guest1-serial.log', true],
        ['console1', 'pty', live('console1'), true],
      ],
    );
    t.regex(notes.join('\n'), new RegExp(`${op}: XML rewritten on hosta`));
  });
}

test('nothing to change: no output (libvirt keeps its XML)', async (t) => {
  const { c } = await ctx('migrate', domain(''));
  t.deepEqual(await handleFilter(c), {});
  const once = await handleFilter((await ctx('migrate', fileSerial)).c);
  t.deepEqual(await handleFilter((await ctx('migrate', once.xml as string)).c), {}, 'already rewritten');
});

test('malformed or hostile XML: reported, no output', async (t) => {
  for (const xml of [
    '<domain><devices>',
    '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/shadow">]><domain>&x;</domain>',
  ]) {
    const { c, reports } = await ctx('migrate', xml);
    t.deepEqual(await handleFilter(c), {});
    t.is(reports.length, 1);
    t.regex(reports[0] ?? '', /^domain XML left unchanged: (malformed XML|<!DOCTYPE>)/);
  }
});
