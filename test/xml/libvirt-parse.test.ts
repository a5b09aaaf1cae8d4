// libvirt's own parser on our output: `virsh -c test:///default` runs libvirt's domain XML parsing
// and formatting (domain_conf.c, console compat included) in-process, no daemon and no guest.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { listChardevs, readDomainIdentity } from '../../src/xml/chardevs.js';
import { rewriteDomainXml } from '../../src/xml/rewrite.js';
import { config, corpusDir, domain, facts, live, mapLimit } from './helpers.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vcl-virsh-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

let seq = 0;
/** Defines `xml` in libvirt's test driver and returns the XML libvirt formats back; undefined if refused. */
async function libvirtRoundTrip(xml: string): Promise<{ xml?: string; error?: string }> {
  const file = path.join(dir, `${seq++}.xml`);
  await writeFile(file, xml);
  const { uuid } = readDomainIdentity(xml);
  const r = await execa('virsh', ['-q', '-c', 'test:///default', `define ${file}; dumpxml ${uuid}`], {
    reject: false,
    env: { LC_ALL: 'C' },
  });
  if (r.exitCode !== 0) return { error: String(r.stderr) };
  return { xml: String(r.stdout).slice(String(r.stdout).indexOf('<domain')) };
}

test('libvirt keeps our logs, and derives the console alias exactly as we wrote it', async (t) => {
  const xml = domain(`    <serial type='file'>
      <source path='/tmp/guest1.log'/>
      <target type='isa-serial' port='0'/>
    </serial>
    <serial type='tcp'>
      <source mode='bind' host='127.0.0.1' service='9999'/>
      <protocol type='telnet'/>
      <target port='1'/>
    </serial>
    <console type='file'>
      <source path='/tmp/guest1.log'/>
      <target type='serial' port='0'/>
    </console>
    <console type='pty'>
      <target type='virtio' port='1'/>
    </console>`);
  const ours = rewriteDomainXml(xml, { config: config(), facts, mode: 'define' });
  const back = await libvirtRoundTrip(ours.xml);
  t.is(back.error, undefined);
  const project = (x: string) =>
    listChardevs(x).map((d) => [d.device, d.type, d.isSerialAlias, d.logFile, d.logAppend, d.sourcePath]);
  t.deepEqual(project(back.xml ?? ''), project(ours.xml));
  t.deepEqual(
    project(ours.xml).map((d) => d[3]),
    [live('serial0'), live('serial1'), live('serial0'), live('console1')],
  );
});

test('corpus: libvirt accepts every rewritten document it accepts as input, with every log kept', async (t) => {
  const files = readdirSync(corpusDir).filter((f) => f.endsWith('.xml'));
  const bad: string[] = [];
  let checked = 0;
  await mapLimit(files, 4, async (file) => {
    const input = readFileSync(path.join(corpusDir, file), 'utf8');
    let result;
    try {
      result = rewriteDomainXml(input, { config: config(), facts, mode: 'define' });
    } catch {
      return; // no <uuid>: covered by corpus.test.ts
    }
    if (!result.changed) return;
    const back = await libvirtRoundTrip(result.xml);
    if (back.xml === undefined) {
      // Only a failure of ours if libvirt took the input.
      const before = await libvirtRoundTrip(input);
      if (before.xml !== undefined) bad.push(`${file}: libvirt refused the rewrite: ${back.error}`);
      return;
    }
    checked++;
    const theirs = listChardevs(back.xml).filter((d) => d.element !== 'parallel');
    for (const d of result.devices.filter((x) => x.element !== 'parallel' && !x.isSerialAlias)) {
      if (!theirs.some((x) => x.logFile === d.logFile && x.logAppend))
        bad.push(`${file}: ${d.device}'s log ${d.logFile} lost by libvirt`);
    }
    for (const d of theirs)
      if (!d.logFile || !d.logAppend) bad.push(`${file}: libvirt shows ${d.device} without an append log`);
  });
  t.true(checked >= 50, `${checked} rewritten corpus documents defined in libvirt`);
  t.deepEqual(bad, []);
});
