// Lab: Nova-managed domains. Nova generates pty + <log append='off'> in its instance folder (older
// releases: a type='file' serial there) and reads the console back itself (docs/MANAGEMENT-LAYERS.md).
// After `enable` and after a live migration (shared instance storage), a reader that does exactly
// what nova/virt/libvirt/driver.py get_console_output does still returns the guest's history.
import test from 'ava';
import { appendFileSync, closeSync, constants, existsSync, openSync, readSync, statSync } from 'node:fs';
import { startLab, type Lab, type LabHost } from './harness.js';
import { createGuest, novaConsolePath, type Guest } from './guest.js';
import { checkHistory } from './checker.js';
import { define, destroy, migrate, readInside, start, waitForMoreLines, waitForSeq } from './scenario.js';
import { childrenNamed, attrValue, parseDomainDocument, type Element } from '../../src/xml/doc.js';

// nova/virt/libvirt/driver.py: MAX_CONSOLE_BYTES = 100 * units.Ki
const MAX_CONSOLE_BYTES = 100 * 1024;

let lab: Lab;
const guests = new Map<string, Guest>();

test.before(async () => {
  lab = await startLab({ hosts: ['lab-a', 'lab-b'], sharedNova: true, config: 'auto_enable = 0\n' });
  // One after the other: the boot-sector build is cached per delay and must not race.
  for (const [name, style] of [
    ['novapty', 'nova-pty-log'],
    ['novafile', 'file'],
  ] as const)
    guests.set(name, withNovaMetadata(await createGuest(lab, { name, serial: style, delayUs: 20000 })));
});
test.after.always(async () => {
  await lab?.stop();
});

/** ElementTree's tree.find("./devices/console[@type=T]/SUB[@ATTR]"): first match in document order. */
function etreeFind(xml: string, type: string, sub: string, attr: string): Element | undefined {
  const root = parseDomainDocument(xml).root;
  for (const devices of childrenNamed(root, 'devices'))
    for (const c of childrenNamed(devices, 'console')) {
      if (attrValue(c, 'type') !== type) continue;
      const hit = childrenNamed(c, sub).find((s) => attrValue(s, attr) !== undefined);
      if (hit) return hit;
    }
  return undefined;
}

/** nova/privsep/libvirt.py readpty: open the pty, O_NONBLOCK, read what is there; errors give ''. */
function readpty(path: string): Buffer {
  const chunks: Buffer[] = [];
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const buf = Buffer.alloc(65536);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
  } catch {
    // EAGAIN ends the read; Nova logs and ignores any other error.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return Buffer.concat(chunks);
}

/** nova/privsep/path.py last_bytes: the last `num` bytes and how many bytes come before them. */
function lastBytes(path: string, num: number): { data: Buffer; remaining: number } {
  const size = statSync(path).size;
  const start = Math.max(0, size - num);
  const fd = openSync(path, 'r');
  try {
    const data = Buffer.alloc(size - start);
    let got = 0;
    while (got < data.length) {
      const n = readSync(fd, data, got, data.length - got, start + got);
      if (n <= 0) break;
      got += n;
    }
    return { data: data.subarray(0, got), remaining: start };
  } finally {
    closeSync(fd);
  }
}

/**
 * LibvirtDriver.get_console_output + _get_console_output_file, step by step. `host` maps the
 * paths Nova sees on the compute host to paths this test can open.
 */
async function novaGetConsoleOutput(host: LabHost, domain: string, uuid: string): Promise<string> {
  const xml = await host.virsh('dumpxml', domain); // guest.get_xml_desc(): the live XML
  const pathSources: [string, string, string][] = [
    ['file', 'source', 'path'],
    ['tcp', 'log', 'file'],
    ['pty', 'source', 'path'],
  ];
  let consoleType = '';
  let consolePath = '';
  for (const [type, sub, attr] of pathSources) {
    const node = etreeFind(xml, type, sub, attr);
    if (node && attrValue(node, attr)) {
      consoleType = type;
      consolePath = attrValue(node, attr) as string;
      break;
    }
  }
  if (!consolePath) throw new Error('ConsoleNotAvailable');
  if (!existsSync(host.outside(consolePath))) return '';
  if (consoleType === 'pty') {
    // _get_console_log_path(instance): <instances_path>/<uuid>/console.log, from the instance, not the XML.
    const consoleLog = novaConsolePath(uuid);
    const data = readpty(consolePath);
    appendFileSync(host.outside(consoleLog), data); // nova.privsep.path.writefile(console_log, 'a+', data)
    consolePath = consoleLog;
  }
  let bytesToRead = MAX_CONSOLE_BYTES;
  let logData = Buffer.alloc(0);
  let i = 0;
  let path = consolePath;
  while (bytesToRead > 0 && existsSync(host.outside(path))) {
    const { data } = lastBytes(host.outside(path), bytesToRead);
    logData = Buffer.concat([data, logData]); // chronological order: prepend
    bytesToRead -= data.length;
    path = `${consolePath}.${i}`;
    i++;
  }
  return logData.toString('latin1');
}

function withNovaMetadata(g: Guest): Guest {
  const md =
    `<metadata>\n    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">\n` +
    `      <nova:name>vm-${g.name}</nova:name>\n    </nova:instance>\n  </metadata>`;
  return { ...g, xml: g.xml.replace(/(<uuid>[^<]*<\/uuid>)/, `$1\n  ${md}`) };
}

async function novaScenario(t: import('ava').ExecutionContext, name: string) {
  const a = lab.host('lab-a');
  const b = lab.host('lab-b');
  const g = guests.get(name) as Guest;
  const consoleLog = novaConsolePath(g.uuid);
  await define(a, g);
  await start(a, g.name);
  const boot1 = await waitForSeq(() => readInside(a, consoleLog), { minLast: 30 });

  const en = await a.cli('enable', g.name);
  t.is(en.exitCode, 0, en.stderr);
  t.regex(en.stdout, /Nova-managed: log path in the instance folder kept, truncation turned into append/);
  const inactive = await a.virsh('dumpxml', '--inactive', g.name);
  t.true(inactive.includes(`<log file='${consoleLog}' append='on'/>`), inactive);
  t.regex(inactive, /<serial type='pty'>/);
  t.regex(inactive, /xmlns:nova="http:\/\/openstack\.org\/xmlns\/libvirt\/nova\/1\.1"/);

  // A restart (Nova's hard reboot is destroy + start) no longer truncates Nova's console.log.
  await destroy(a, g.name);
  await start(a, g.name);
  const afterRestart = await waitForSeq(() => readInside(a, consoleLog), { boots: 2, minLast: 30 });
  t.is(afterRestart.boots[0]?.boot, boot1.boots[0]?.boot);
  const novaA = checkHistory(await novaGetConsoleOutput(a, g.name, g.uuid));
  t.deepEqual(
    novaA.boots.map((x) => x.boot),
    afterRestart.boots.map((x) => x.boot),
    'Nova reads both boots on lab-a',
  );
  t.is(novaA.boots[0]?.first, 0, 'from the first line of the first boot');

  // Live migration to lab-b (shared instance storage): Nova on lab-b still finds all of it.
  await migrate(a, b, g.name, lab, { persistent: true, undefineSource: true });
  const liveB = await b.virsh('dumpxml', g.name);
  t.true(liveB.includes(`<log file='${consoleLog}' append='on'/>`), liveB);
  await waitForMoreLines(() => readInside(b, consoleLog), { after: afterRestart, more: 20 });
  const text = await novaGetConsoleOutput(b, g.name, g.uuid);
  t.true(text.length <= MAX_CONSOLE_BYTES);
  const novaB = checkHistory(text);
  t.deepEqual(
    novaB.boots.map((x) => x.boot),
    afterRestart.boots.map((x) => x.boot),
    'Nova on lab-b reads both boots',
  );
  t.is(novaB.boots[0]?.first, 0);
  // The running boot crossed the migration without losing a line (seq 0 may sit behind the
  // unterminated last line of the destroyed boot; Nova's own readpty may add duplicates).
  const running = novaB.boots[1];
  t.truthy(running);
  t.deepEqual(
    running?.gaps.filter((gap) => gap.from !== 0 || gap.to !== 0),
    [],
    JSON.stringify(running?.gaps),
  );
  t.true((running?.last ?? 0) > (afterRestart.boots[1]?.last ?? 0));
  // enable on lab-b of the migrated definition keeps Nova's path and changes nothing else of it.
  const enB = await b.cli('enable', '--dry-run', g.name);
  t.is(enB.exitCode, 0, enB.stderr);
  t.notRegex(enB.stdout, new RegExp(`^-.*${consoleLog}`, 'm'));
  await destroy(b, g.name);
}

test('Nova pty + <log append=off> in the instance folder: enable, restart, migrate, read as Nova', async (t) => {
  await novaScenario(t, 'novapty');
});

test("Nova's older type='file' serial: enable, restart, migrate, read as Nova", async (t) => {
  await novaScenario(t, 'novafile');
});
