import test from 'ava';
import { DEFAULTS, type Config } from '../../src/config/schema.js';
import { hintElement } from '../../src/definitions/auto.js';
import { isNovaManaged } from '../../src/definitions/devices.js';
import { planEnable } from '../../src/definitions/plan.js';
import { assessXml, captureState, decideAutoEnable } from '../../src/definitions/state.js';
import { definitionTools, stateOptions } from '../../src/definitions/tools.js';
import { classifyVirshError, maskSecrets, uriFrom } from '../../src/definitions/virsh.js';
import { parseDefinitionArgs } from '../../src/cli/commands/definitions-common.js';
import { readConsolelogMetadata, writeConsolelogMetadata } from '../../src/xml/metadata.js';

const config: Config = { ...structuredClone(DEFAULTS), hostName: 'hosta' } as Config;
const opts = stateOptions(config);
const UUID = '0b4a3f0e-1111-4222-8333-944455556666';

const guest = (devices: string, metadata = '') => `<domain type='qemu'>
  <name>g</name>
  <uuid>${UUID}</uuid>${metadata}
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    ${devices}
  </devices>
</domain>
`;
const pty = guest(`<serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>`);
const enabledOnA = planEnable(
  pty,
  definitionTools(config, { host: 'hosta', canLogChardev: true }),
  'hosta',
  new Date(),
).xml;

test('assessXml: levels and reasons', (t) => {
  t.like(assessXml(pty, opts), { level: 'not-logged', reasons: ['serial0: no <log>'] });
  t.like(assessXml(enabledOnA, opts), { level: 'enabled', enabledOn: 'hosta', reasons: [] });
  const ownLog = guest(`<serial type='pty'><log file='/var/log/x.log' append='on'/></serial>`);
  t.like(assessXml(ownLog, opts), { level: 'logged' });
  const trunc = guest(`<serial type='pty'><log file='/var/log/x.log' append='off'/></serial>
    <serial type='file'><source path='/var/log/y.log'/></serial>
    <serial type='file'><source path='/var/log/z.log' append='on'/></serial>`);
  const a = assessXml(trunc, opts);
  t.is(a.level, 'not-logged');
  t.deepEqual(a.reasons, [
    'serial0: truncated at every start',
    'serial1: truncated at every start',
    "serial2: file backend with append='on' (kept, but no virsh console)",
  ]);
  const partial = guest(`<serial type='pty'><log file='/var/log/x.log' append='on'/></serial>
    <console type='pty'><target type='virtio'/></console>`);
  t.like(assessXml(partial, opts), { level: 'partial', reasons: ['console0: no <log>'] });
  t.like(assessXml(guest(''), opts), { level: 'no-devices' });
  t.like(assessXml(undefined, opts), { level: 'absent' });
  // Parallel ports count only when configured.
  const par = guest(`<parallel type='pty'/>`);
  t.is(assessXml(par, opts).level, 'no-devices');
  t.is(assessXml(par, { ...opts, rewriteParallel: true }).level, 'not-logged');
});

test('captureState: persistent, live, neither, and why', (t) => {
  t.is(captureState(enabledOnA, enabledOnA, opts).summary, 'persistent definition and live XML captured');
  t.regex(
    captureState(enabledOnA, pty, opts).summary,
    /^persistent definition captured, takes effect at next start; live XML not \(serial0: no <log>\)$/,
  );
  t.regex(captureState(pty, enabledOnA, opts).summary, /^live XML captured; persistent definition not/);
  t.regex(
    captureState(pty, pty, opts).summary,
    /^neither persistent definition nor live XML captured \(serial0: no <log>\)/,
  );
  t.regex(captureState(pty, undefined, opts).summary, /^not captured .*run virt-consolelog enable/);
  t.is(captureState(enabledOnA, undefined, opts).summary, 'persistent definition captured (shut off)');
  t.regex(captureState(undefined, pty, opts).summary, /^transient domain: live XML not captured/);
  t.is(captureState(undefined, enabledOnA, opts).summary, 'transient domain: live XML captured');
  t.is(captureState(guest(''), guest(''), opts).summary, 'nothing to capture: no serial or console');
  const nova = pty.replace(
    '<os>',
    `<metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1"/></metadata>\n  <os>`,
  );
  t.regex(
    captureState(nova, nova, opts).summary,
    /; Nova-managed: Nova regenerates the definition on hard reboot and power on$/,
  );
  const s = captureState(pty, enabledOnA, opts);
  t.is(s.persistent.level, 'not-logged');
  t.is(s.live.level, 'enabled');
});

test('decideAutoEnable: from the hook XML alone', (t) => {
  t.like(decideAutoEnable(pty, 'hosta', opts), { schedule: true, reason: 'serial0: no <log>' });
  t.like(decideAutoEnable(enabledOnA, 'hosta', opts), { schedule: false });
  // Enabled on another host (a definition carried along by migration): enable it again here.
  t.like(decideAutoEnable(enabledOnA, 'hostb', opts), {
    schedule: true,
    reason: 'definition was enabled on hosta',
  });
  // Logged by the hook's migrate rewrite, but the definition was never enabled: schedule.
  const migrated = writeConsolelogMetadata(
    guest(
      `<serial type='pty'><log file='/var/log/libvirt/consolelog/x/hosta/serial0.log' append='on'/></serial>`,
    ),
    { host: 'hosta', generation: 1 },
  );
  t.like(decideAutoEnable(migrated, 'hosta', opts), { schedule: true });
  t.like(decideAutoEnable(guest(''), 'hosta', opts), { schedule: false, reason: 'no serial or console' });
});

test('isNovaManaged: by the metadata namespace only', (t) => {
  const nova = guest(
    `<serial type='pty'/>`,
    `\n  <metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.0"/></metadata>`,
  );
  t.true(isNovaManaged(nova));
  t.false(isNovaManaged(pty));
  // Someone else's metadata that merely mentions the address is not Nova.
  const other = guest(
    `<serial type='pty'/>`,
    `\n  <metadata><x:y xmlns:x="urn:x">http://openstack.org/xmlns/libvirt/nova/1.0</x:y></metadata>`,
  );
  t.false(isNovaManaged(other));
});

test('hintElement: unprefixed (libvirt adds the namespace), every field kept, attributes escaped', (t) => {
  t.is(
    hintElement({ host: 'lab-a', generation: 2 }),
    '<consolelog><host name="lab-a" generation="2"/></consolelog>',
  );
  const meta = readConsolelogMetadata(enabledOnA);
  const el = hintElement({ ...meta, host: 'a"<b', degraded: 'x' });
  t.regex(el, /name="a&quot;&lt;b"/);
  t.regex(el, /<degraded reason="x"\/>/);
  t.true(el.includes(`<original>${meta.original}</original>`));
});

test('virsh errors: busy, not found, other', (t) => {
  t.is(classifyVirshError("error: failed to get domain 'x'"), 'not-found');
  t.is(
    classifyVirshError(
      'error: Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainCreate)',
    ),
    'busy',
  );
  t.is(classifyVirshError('error: operation failed: domain is already being started'), 'busy');
  t.is(classifyVirshError('error: XML error: bad thing'), 'other');
  // What the automatic job's calls got from a libvirtd starting 200 guests (BENCHMARKS.md): retry later.
  for (const lost of [
    'error: Disconnected from qemu:///system due to keepalive timeout\nerror: internal error: connection closed due to keepalive timeout',
    'error: Unable to register disconnect callback\nerror: no valid connection\nerror: internal error: connection closed due to keepalive timeout',
    'error: End of file while reading data: Input/output error',
  ])
    t.is(classifyVirshError(lost), 'busy', lost);
  // No libvirtd at all: not waited for.
  t.is(
    classifyVirshError(
      "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory",
    ),
    'other',
  );
  t.is(uriFrom('qemu:///x', { LIBVIRT_DEFAULT_URI: 'qemu:///y' }), 'qemu:///x');
  t.is(uriFrom(undefined, { LIBVIRT_DEFAULT_URI: 'qemu:///y' }), 'qemu:///y');
  t.is(uriFrom(undefined, {}), undefined);
});

test('enable/disable command lines', (t) => {
  t.like(parseDefinitionArgs(['a', 'b', '--dry-run']), { domains: ['a', 'b'], dryRun: true, all: false });
  t.like(parseDefinitionArgs(['--all', '--connect', 'qemu:///system']), {
    all: true,
    connect: 'qemu:///system',
  });
  // -c is show's --bytes in every command: no longer --connect here.
  t.throws(() => parseDefinitionArgs(['--all', '-c', 'qemu:///system']), { message: /unknown option -c/ });
  t.like(parseDefinitionArgs(['--connect=qemu:///s', '--', '-odd-name']), {
    domains: ['-odd-name'],
    connect: 'qemu:///s',
  });
  t.throws(() => parseDefinitionArgs([]), { message: /no domain given/ });
  t.throws(() => parseDefinitionArgs(['--all', 'x']), { message: /not both/ });
  t.throws(() => parseDefinitionArgs(['--bogus']), { message: /unknown option --bogus/ });
  t.throws(() => parseDefinitionArgs(['--connect']), { message: /--connect needs a value/ });
});

test('dry-run diffs never show graphics passwords', (t) => {
  t.is(
    maskSecrets(`<graphics type='vnc' port='-1' passwd='s3cr"t'/><graphics type="spice" passwd="x"/>`),
    `<graphics type='vnc' port='-1' passwd='***'/><graphics type="spice" passwd="***"/>`,
  );
});
