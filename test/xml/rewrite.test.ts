import test from 'ava';
import type { ExecutionContext } from 'ava';
import { listChardevs, readDomainIdentity } from '../../src/xml/chardevs.js';
import { readConsolelogMetadata } from '../../src/xml/metadata.js';
import {
  XmlRewriteError,
  addDomainUuid,
  rewriteDomainXml,
  type RewriteResult,
} from '../../src/xml/rewrite.js';
import type { Config } from '../../src/config/schema.js';
import { HOST, STORE, UUID, config, domain, facts, live, oldFacts, validate } from './helpers.js';
import type { HostFacts } from '../../src/xml/rewrite.js';

/** Rewrites, and checks what every rewrite must satisfy: valid output, idempotent. */
async function rw(
  t: ExecutionContext,
  xml: string,
  opts: { config?: Config; facts?: HostFacts; mode?: 'migrate' | 'restore' | 'define' } = {},
): Promise<RewriteResult> {
  const o = { config: opts.config ?? config(), facts: opts.facts ?? facts, mode: opts.mode ?? 'migrate' };
  const r = rewriteDomainXml(xml, o);
  t.is(await validate(xml), undefined, 'test input is valid domain XML');
  t.is(await validate(r.xml), undefined, 'output passes virt-xml-validate');
  t.is(rewriteDomainXml(r.xml, o).xml, r.xml, 'rewrite is idempotent');
  return r;
}

/** The part of the output between two markers (inclusive). */
function section(xml: string, from: string, to: string): string {
  const a = xml.indexOf(from);
  const b = xml.indexOf(to, a);
  if (a < 0 || b < 0) throw new Error(`section ${from}..${to} not found in\n${xml}`);
  return xml.slice(a, b + to.length);
}

const NOVA_META = `
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:package version="27.1.0"/>
      <nova:name>vm-1</nova:name>
      <nova:owner><nova:user uuid="0b2d">admin</nova:user></nova:owner>
    </nova:instance>
  </metadata>`;

test('OpenStack file serial: becomes pty, Nova path kept as append-mode log, second serial logged', async (t) => {
  const path = `/var/lib/nova/instances/${UUID}/console.log`;
  const xml = domain(
    `    <serial type="file">
      <source path="${path}"/>
    </serial>
    <serial type="pty"/>`,
    { q: '"', head: NOVA_META },
  );
  const r = await rw(t, xml);
  t.true(r.changed);
  t.is(
    section(r.xml, '<serial', '</devices>'),
    `<serial type="pty">
      <log file="${path}" append="on"/>
    </serial>
    <serial type="pty">
      <log file="${live('serial1')}" append="on"/>
    </serial>
  </devices>`,
  );
  const nova = NOVA_META.slice(NOVA_META.indexOf('<nova:instance'), NOVA_META.indexOf('</metadata>'));
  t.true(r.xml.includes(nova), 'Nova metadata byte-identical');
  t.true(
    r.xml.includes(`    </nova:instance>
    <vcl:consolelog xmlns:vcl="http://virt-consolelog.org/xmlns/consolelog/1.0">
      <vcl:host name="${HOST}" generation="0"/>
    </vcl:consolelog>
  </metadata>`),
    r.xml,
  );
  t.deepEqual(readConsolelogMetadata(r.xml), { host: HOST, generation: 0 });
});

test('OpenStack file serial with keep_foreign_log_path = 0: log goes to the store', async (t) => {
  const xml = domain(`    <serial type='file'>
      <source path='/var/lib/nova/instances/${UUID}/console.log'/>
    </serial>`);
  const r = await rw(t, xml, { config: config({ keepForeignLogPath: false }) });
  t.is(
    section(r.xml, '<serial', '</serial>'),
    `<serial type='pty'>
      <log file='${live('serial0')}' append='on'/>
    </serial>`,
  );
});

test('newer Nova: pty with a truncating log in the instance folder -> append, path kept', async (t) => {
  const path = `/var/lib/nova/instances/${UUID}/console.log`;
  const xml = domain(`    <serial type='pty'>
      <log file='${path}' append='off'/>
      <target port='0'/>
    </serial>`);
  const r = await rw(t, xml);
  t.is(
    section(r.xml, '<serial', '</serial>'),
    `<serial type='pty'>
      <log file='${path}' append='on'/>
      <target port='0'/>
    </serial>`,
  );
});

test('file serial outside allowed roots: pty + store log, warning names the path', async (t) => {
  const xml = domain(`    <serial type='file'>
      <source path='/tmp/serial.log' append='on'/>
      <target port='0'/>
    </serial>`);
  const r = await rw(t, xml);
  t.is(
    section(r.xml, '<serial', '</serial>'),
    `<serial type='pty'>
      <log file='${live('serial0')}' append='on'/>
      <target port='0'/>
    </serial>`,
  );
  t.regex(r.warnings.join('\n'), /serial0: file source "\/tmp\/serial.log" is outside allowed_roots/);
});

test('pty (active XML with source path): type and source kept, log added after the source', async (t) => {
  const xml = domain(`    <serial type='pty'>
      <source path='/dev/pts/3'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>`);
  const r = await rw(t, xml);
  t.is(
    section(r.xml, '<serial', '</serial>'),
    `<serial type='pty'>
      <source path='/dev/pts/3'/>
      <log file='${live('serial0')}' append='on'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>`,
  );
});

for (const protocol of ['raw', 'telnet']) {
  test(`tcp ${protocol}: source and protocol kept, log after them`, async (t) => {
    const xml = domain(`    <serial type='tcp'>
      <source mode='bind' host='127.0.0.1' service='9999'/>
      <protocol type='${protocol}'/>
      <target port='0'/>
    </serial>`);
    const r = await rw(t, xml);
    t.is(
      section(r.xml, '<serial', '</serial>'),
      `<serial type='tcp'>
      <source mode='bind' host='127.0.0.1' service='9999'/>
      <protocol type='${protocol}'/>
      <log file='${live('serial0')}' append='on'/>
      <target port='0'/>
    </serial>`,
    );
  });
}

test('unix socket serial: source kept, log added', async (t) => {
  const xml = domain(`    <serial type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/guest1.serial'/>
      <target port='0'/>
    </serial>`);
  const r = await rw(t, xml);
  t.is(
    section(r.xml, '<serial', '</serial>'),
    `<serial type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/guest1.serial'/>
      <log file='${live('serial0')}' append='on'/>
      <target port='0'/>
    </serial>`,
  );
  t.deepEqual(
    r.devices.map((d) => [d.device, d.type, d.sourcePath, d.logFile, d.logAppend]),
    [['serial0', 'unix', '/var/lib/libvirt/qemu/guest1.serial', live('serial0'), true]],
  );
});

test("<log append='off'> and <log> without append become append='on'; outside allowed roots moves to the store", async (t) => {
  const xml = domain(`    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/guest1-serial0.log' append='off'/>
      <target port='0'/>
    </serial>
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/guest1-serial1.log'/>
      <target port='1'/>
    </serial>
    <serial type='pty'>
      <log file='/srv/elsewhere/serial2.log' append='off'/>
      <target port='2'/>
    </serial>`);
  const r = await rw(t, xml);
  t.is(
    section(r.xml, '<serial', '</devices>'),
    `<serial type='pty'>
      <log file='/var/log/libvirt/qemu/guest1-serial0.log' append='on'/>
      <target port='0'/>
    </serial>
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/guest1-serial1.log' append='on'/>
      <target port='1'/>
    </serial>
    <serial type='pty'>
      <log file='${live('serial2')}' append='on'/>
      <target port='2'/>
    </serial>
  </devices>`,
  );
});

test('an append-mode log outside the store is left exactly as it is', async (t) => {
  const xml = domain(`    <serial type='pty'>
      <log append="on"   file='/srv/mine/serial.log'/>
      <target port='0'/>
    </serial>`);
  const r = await rw(t, xml);
  t.true(r.xml.includes(`<log append="on"   file='/srv/mine/serial.log'/>`));
});

test('4 ISA serials: four distinct logs, nothing added or removed', async (t) => {
  const serials = [0, 1, 2, 3]
    .map(
      (i) => `    <serial type='pty'>
      <target type='isa-serial' port='${i}'>
        <model name='isa-serial'/>
      </target>
    </serial>`,
    )
    .join('\n');
  const r = await rw(t, domain(serials));
  const devs = listChardevs(r.xml);
  t.deepEqual(
    devs.map((d) => [d.device, d.logFile, d.targetType]),
    [0, 1, 2, 3].map((i) => [`serial${i}`, live(`serial${i}`), 'isa-serial']),
  );
  t.is((r.xml.match(/<serial /g) ?? []).length, 4);
});

test('x86 console alias mirrors serial0: same type, same log, no source of its own', async (t) => {
  const xml = domain(`    <serial type='file'>
      <source path='/var/log/libvirt/qemu/guest1.log'/>
      <target type='isa-serial' port='0'/>
    </serial>
    <console type='file'>
      <source path='/var/log/libvirt/qemu/guest1.log'/>
      <target type='serial' port='0'/>
    </console>`);
  const r = await rw(t, xml);
  t.is(
    section(r.xml, '<serial', '</console>'),
    `<serial type='pty'>
      <log file='/var/log/libvirt/qemu/guest1.log' append='on'/>
      <target type='isa-serial' port='0'/>
    </serial>
    <console type='pty'>
      <log file='/var/log/libvirt/qemu/guest1.log' append='on'/>
      <target type='serial' port='0'/>
    </console>`,
  );
  const alias = r.devices.find((d) => d.element === 'console');
  t.like(alias, {
    device: 'console0',
    isSerialAlias: true,
    type: 'pty',
    logFile: '/var/log/libvirt/qemu/guest1.log',
  });
});

test('virtio console: a real device with its own log; the alias shares serial0', async (t) => {
  const xml = domain(`    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <console type='pty'>
      <target type='virtio' port='1'/>
    </console>`);
  const r = await rw(t, xml);
  t.deepEqual(
    r.devices.map((d) => [d.device, d.isSerialAlias, d.logFile]),
    [
      ['serial0', false, live('serial0')],
      ['console0', true, live('serial0')],
      ['console1', false, live('console1')],
    ],
  );
});

test('s390 sclp console: logged as console0', async (t) => {
  const xml = domain(
    `    <console type='pty'>
      <target type='sclp' port='0'/>
    </console>`,
    { arch: 's390x', machine: 's390-ccw-virtio' },
  );
  const r = await rw(t, xml);
  t.is(
    section(r.xml, '<console', '</console>'),
    `<console type='pty'>
      <log file='${live('console0')}' append='on'/>
      <target type='sclp' port='0'/>
    </console>`,
  );
  t.false(r.devices[0]?.isSerialAlias);
});

test('ppc64 spapr-vty serial and its console alias', async (t) => {
  const xml = domain(
    `    <serial type='pty'>
      <target type='spapr-vio-serial' port='0'>
        <model name='spapr-vty'/>
      </target>
      <address type='spapr-vio' reg='0x30000000'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>`,
    { arch: 'ppc64', machine: 'pseries' },
  );
  const r = await rw(t, xml);
  t.is(
    section(r.xml, '<serial', '</console>'),
    `<serial type='pty'>
      <log file='${live('serial0')}' append='on'/>
      <target type='spapr-vio-serial' port='0'>
        <model name='spapr-vty'/>
      </target>
      <address type='spapr-vio' reg='0x30000000'/>
    </serial>
    <console type='pty'>
      <log file='${live('serial0')}' append='on'/>
      <target type='serial' port='0'/>
    </console>`,
  );
});

test('aarch64 system-serial (pl011) and its console alias', async (t) => {
  const xml = domain(
    `    <serial type='pty'>
      <target type='system-serial' port='0'>
        <model name='pl011'/>
      </target>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>`,
    { arch: 'aarch64', machine: 'virt' },
  );
  const r = await rw(t, xml);
  t.deepEqual(
    r.devices.map((d) => [d.device, d.targetType, d.isSerialAlias, d.logFile]),
    [
      ['serial0', 'system-serial', false, live('serial0')],
      ['console0', 'serial', true, live('serial0')],
    ],
  );
});

test('channels are never touched (and a channel-only guest is byte-identical)', async (t) => {
  const channels = `    <channel type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/guest1.org.qemu.guest_agent.0'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <channel type='pty'>
      <target type='virtio' name='org.example.pty'/>
    </channel>
    <channel type='file'>
      <source path='/var/lib/libvirt/qemu/channel.log'/>
      <target type='virtio' name='org.example.file'/>
    </channel>`;
  const only = domain(channels);
  const r1 = await rw(t, only);
  t.false(r1.changed);
  t.is(r1.xml, only);
  const withSerial = domain(`${channels}\n    <serial type='pty'/>`);
  const r2 = await rw(t, withSerial);
  t.true(r2.xml.includes(channels));
});

test('parallel ports: untouched by default, logged with rewrite_parallel = 1', async (t) => {
  const xml = domain(`    <parallel type='file'>
      <source path='/var/log/libvirt/parport.log'/>
      <target port='0'/>
    </parallel>`);
  const r1 = await rw(t, xml);
  t.false(r1.changed);
  const r2 = await rw(t, xml, { config: config({ rewriteParallel: true }) });
  t.is(
    section(r2.xml, '<parallel', '</parallel>'),
    `<parallel type='pty'>
      <log file='/var/log/libvirt/parport.log' append='on'/>
      <target port='0'/>
    </parallel>`,
  );
});

test('comments, CDATA, entities, processing instructions, CRLF and attribute order survive', async (t) => {
  const xml = domain(
    `    <!-- serial for the boot log -->
    <serial type='file'>
      <!-- Nova writes here -->
      <source path='/var/lib/nova/instances/a&amp;b/console.log'/>
      <target port='0'/>
    </serial>
    <?my-tool keep me?>`,
    {
      head: `
  <title>Guest &amp; friends &#x263A;</title>
  <description><![CDATA[<b>not markup</b> & more]]></description>`,
    },
  ).replace(/\n/g, '\r\n');
  const r = await rw(t, xml);
  t.true(
    r.xml.includes(
      `<title>Guest &amp; friends &#x263A;</title>\r\n  <description><![CDATA[<b>not markup</b> & more]]></description>`,
    ),
  );
  t.true(
    r.xml.includes(
      `<!-- serial for the boot log -->\r\n    <serial type='pty'>\r\n      <!-- Nova writes here -->\r\n` +
        `      <log file='/var/lib/nova/instances/a&amp;b/console.log' append='on'/>\r\n      <target port='0'/>\r\n`,
    ),
    r.xml,
  );
  t.false(/[^\r]\n/.test(r.xml), 'every added line ends in CRLF like the rest');
  t.true(r.xml.includes(`<?my-tool keep me?>`));
  t.is(r.devices[0]?.logFile, '/var/lib/nova/instances/a&b/console.log');
});

test('host without log support: <log> stripped, interactive backend kept, degraded recorded', async (t) => {
  const xml = domain(`    <serial type='pty'>
      <log file='${live('serial0')}' append='on'/>
      <target port='0'/>
    </serial>
    <serial type='file'>
      <source path='/var/log/libvirt/qemu/guest1.log'/>
      <target port='1'/>
    </serial>
    <console type='pty'>
      <log file='${live('serial0')}' append='on'/>
      <target type='serial' port='0'/>
    </console>`);
  const r = await rw(t, xml, { facts: oldFacts });
  t.is(
    section(r.xml, '<serial', '</console>'),
    `<serial type='pty'>
      <target port='0'/>
    </serial>
    <serial type='file'>
      <source path='/var/log/libvirt/qemu/guest1.log'/>
      <target port='1'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>`,
  );
  t.is(r.degraded, 'libvirt 1.2.17 < 1.3.3');
  t.deepEqual(readConsolelogMetadata(r.xml), {
    host: HOST,
    generation: 0,
    degraded: 'libvirt 1.2.17 < 1.3.3',
  });
  // Back on a capable host: logs return and the degraded mark goes.
  const back = await rw(t, r.xml);
  t.is(readConsolelogMetadata(back.xml).degraded, undefined);
  t.is(listChardevs(back.xml)[0]?.logFile, live('serial0'));
});

/** A guest arriving from hostz (generation 4) whose serial logs to `logFile`. */
const fromHostz = (logFile: string) =>
  domain(
    `    <serial type='pty'>
      <source path='/dev/pts/7'/>
      <log file='${logFile}' append='on'/>
      <target port='0'/>
    </serial>`,
    {
      head: `
  <metadata>
    <vcl:consolelog xmlns:vcl='http://virt-consolelog.org/xmlns/consolelog/1.0'>
      <vcl:host name='hostz' generation='4'/>
    </vcl:consolelog>
  </metadata>`,
    },
  );

test('migration hop: generation + 1, previous host reported, the live path stays (same on every host)', async (t) => {
  const xml = fromHostz(live('serial0'));
  const r = await rw(t, xml);
  t.is(r.previousHost, 'hostz');
  t.is(r.generation, 5);
  t.deepEqual(readConsolelogMetadata(r.xml), { host: HOST, generation: 5 });
  t.is(r.devices[0]?.logFile, live('serial0'));
  // Only our metadata changed: the live path is valid on this host as it was on hostz.
  t.is(r.xml.replace(/<vcl:host [^>]*>/, ''), xml.replace(/<vcl:host [^>]*>/, ''));
  // Same host again (restore, or a second filter in qemu.d): nothing changes.
  const again = rewriteDomainXml(r.xml, { config: config(), facts, mode: 'restore' });
  t.false(again.changed);
  t.is(again.previousHost, undefined);
  t.is(again.generation, 5);
  // A store path (the layout before live_dir, or another device's live file) becomes this device's live path.
  for (const old of [
    `${STORE}/${UUID}/hostz/serial0.log`,
    live('console3'),
    live('serial0', '22222222-2222-4222-8222-222222222222'),
  ]) {
    const moved = await rw(t, fromHostz(old));
    t.is(moved.devices[0]?.logFile, live('serial0'), old);
    t.is(moved.generation, 5);
  }
});

test('metadata with another prefix for our namespace is recognised', async (t) => {
  const xml = domain(`    <serial type='pty'/>`, {
    head: `
  <metadata>
    <c:consolelog xmlns:c="http://virt-consolelog.org/xmlns/consolelog/1.0"><c:host name="hostz" generation="1"/></c:consolelog>
  </metadata>`,
  });
  const r = await rw(t, xml);
  t.is(r.previousHost, 'hostz');
  t.is(r.generation, 2);
});

test('two devices never end up on one log path (virtlogd would refuse the second)', async (t) => {
  const p = '/var/log/libvirt/qemu/guest1.log';
  const xml = domain(`    <serial type='file'>
      <source path='${p}'/>
      <target port='0'/>
    </serial>
    <serial type='pty'>
      <log file='${p}' append='off'/>
      <target port='1'/>
    </serial>`);
  const r = await rw(t, xml);
  t.deepEqual(
    r.devices.map((d) => d.logFile),
    [p, live('serial1')],
  );
});

test('self-closing console without type gets type pty with its log', async (t) => {
  const xml = domain(`    <console/>`, { arch: 'ppc64', machine: 'pseries' });
  const r = await rw(t, xml);
  t.is(
    section(r.xml, '<console', '</console>'),
    `<console type='pty'>
      <log file='${live('console0')}' append='on'/>
    </console>`,
  );
});

test('single-line documents stay on one line', async (t) => {
  const xml = domain('').replace(/\n\s*/g, '').replace('</devices>', "<serial type='pty'/></devices>");
  const r = await rw(t, xml);
  t.false(r.xml.includes('\n'));
  t.true(r.xml.includes(`<serial type='pty'><log file='${live('serial0')}' append='on'/></serial>`));
});

test('readDomainIdentity normalises the UUID', (t) => {
  const xml = domain('').replace(UUID, UUID.toUpperCase());
  t.deepEqual(readDomainIdentity(xml), { uuid: UUID, name: 'guest1' });
});

test('addDomainUuid adds <uuid> after <name> and refuses a different one', (t) => {
  const xml = domain(`    <serial type='pty'/>`).replace(`\n  <uuid>${UUID}</uuid>`, '');
  t.throws(() => rewriteDomainXml(xml, { config: config(), facts, mode: 'define' }), {
    instanceOf: XmlRewriteError,
    message: /no <uuid>/,
  });
  const withUuid = addDomainUuid(xml, UUID);
  t.true(withUuid.includes(`<name>guest1</name>\n  <uuid>${UUID}</uuid>\n`));
  t.is(addDomainUuid(withUuid, UUID.toUpperCase()), withUuid);
  t.throws(() => addDomainUuid(withUuid, '11111111-2222-3333-4444-555555555555'), {
    message: /already has <uuid>/,
  });
});

test('hostile or malformed input: XmlRewriteError naming the problem', (t) => {
  const o = { config: config(), facts, mode: 'migrate' as const };
  const cases: Array<[string, RegExp]> = [
    [
      `<!DOCTYPE domain [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><domain>&b;</domain>`,
      /<!DOCTYPE> .* no DTD/,
    ],
    [`<domain><name>&xxe;</name></domain>`, /undefined entity &xxe;/],
    [`<domain><a></domain>`, /malformed XML at line 1/],
    [`<domain/><domain/>`, /one root element, found 2/],
    [`<network><name>x</name></network>`, /root element is <network>/],
    [``, /empty input/],
    [`<domain a='<'/>`, /"<" inside an attribute value/],
    [`<domain>\u0001</domain>`, /U\+0001 not allowed/],
    [`<domain><name>a & b</name></domain>`, /bare "&"/],
  ];
  for (const [xml, message] of cases)
    t.throws(() => rewriteDomainXml(xml, o), { instanceOf: XmlRewriteError, message }, xml);
});

test('an unsafe host name is refused (it names a store folder)', (t) => {
  t.throws(
    () =>
      rewriteDomainXml(domain(`    <serial type='pty'/>`), {
        config: config(),
        facts: { ...facts, host: '../etc' },
        mode: 'migrate',
      }),
    { message: /cannot name a store folder/ },
  );
});

test('a path we would choose that a device we leave alone already logs to goes to the store instead', async (t) => {
  const p = '/var/log/libvirt/qemu/guest1.log';
  const xml = domain(`    <serial type='file'>
      <source path='${p}'/>
      <target port='0'/>
    </serial>
    <serial type='pty'>
      <log file='${p}' append='on'/>
      <target port='1'/>
    </serial>`);
  const r = await rw(t, xml);
  t.deepEqual(
    r.devices.map((d) => d.logFile),
    [live('serial0'), p],
  );
  t.regex(r.warnings.join('\n'), /serial0: log ".*guest1.log" is used by another device/);
});

test('a relative or ".." path from XML is never kept', async (t) => {
  const xml = domain(`    <serial type='file'>
      <source path='/var/lib/nova/instances/../../../etc/cron.d/x'/>
      <target port='0'/>
    </serial>`);
  const r = await rw(t, xml);
  t.is(r.devices[0]?.logFile, live('serial0'));
  t.regex(r.warnings.join('\n'), /is not a clean absolute path/);
});
