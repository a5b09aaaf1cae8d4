import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { layoutChain, readChainState } from '../../src/chain/layout.js';
import { domainXml, hook, hookEnv, runCli, UUID } from '../lifecycle/helpers.js';
import { novaConsoleOutputFile } from './nova.js';

/** Nova's device forms, each logging to `p` with truncation at every start. */
const forms: Record<string, (p: string) => string> = {
  'pty + <log>': (p) =>
    `<serial type='pty'><log file='${p}' append='off'/><target port='0'/></serial>
     <console type='pty'><target type='serial' port='0'/></console>`,
  "type='file'": (p) =>
    `<serial type='file'><source path='${p}'/><target port='0'/></serial>
     <console type='file'><source path='${p}'/><target type='serial' port='0'/></console>`,
  'tcp serial console': (p) =>
    `<serial type='tcp'><source mode='bind' host='127.0.0.1' service='10000' tls='no'/><protocol type='raw'/><log file='${p}'/><target port='0'/></serial>
     <serial type='tcp'><source mode='bind' host='127.0.0.1' service='10001' tls='no'/><protocol type='raw'/><target port='1'/></serial>
     <console type='tcp'><source mode='bind' host='127.0.0.1' service='10000' tls='no'/><protocol type='raw'/><target type='serial' port='0'/></console>`,
  's390 sclp console': (p) =>
    `<console type='pty'><log file='${p}'/><target type='sclp' port='0'/></console>`,
};

/** virtlogd opening a log truncating: its backups go first, then the log starts empty (test: with `out`). */
function virtlogdStartsTruncating(path: string, out: string): void {
  for (let i = 0; i < 3; i++) fs.rmSync(`${path}.${i}`, { force: true });
  fs.writeFileSync(path, out);
}

/** Waits for the chain-layout job the hook started (a condition, not a duration). */
async function waitForChain(path: string): Promise<void> {
  const end = Date.now() + 60_000;
  while (!fs.existsSync(`${path}.0`)) {
    if (Date.now() > end) throw new Error(`${path}.0 never appeared`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const bootLines = (n: number, count: number) =>
  Array.from({ length: count }, (_, i) => `boot=${n} seq=${String(i).padStart(6, '0')}\n`).join('');

for (const [form, devices] of Object.entries(forms)) {
  test(`4 hard reboots, ${form}: Nova's reader returns all 4 boots in order, show prints each line once`, async (t) => {
    const { config, env } = hookEnv();
    const dir = join(config.allowedRoots[0] as string, 'instances', UUID);
    const path = join(dir, 'console.log');
    fs.mkdirSync(dir, { recursive: true });
    const xml = domainXml(devices(path));
    let expected = '';
    for (let boot = 1; boot <= 4; boot++) {
      const r = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
      t.is(r.code, 0, r.stderr);
      const out = bootLines(boot, 40);
      virtlogdStartsTruncating(path, out);
      if (boot > 1) await waitForChain(path);
      expected += out;
      if (boot < 4) await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
    }
    t.is(novaConsoleOutputFile(path).toString(), expected);
    t.deepEqual(
      fs
        .readdirSync(dir)
        .filter((n) => n.startsWith('console.log'))
        .sort(),
      ['console.log', 'console.log.0'],
      'one chain file: the plugin keeps no second copy of what the store holds',
    );
    const shown = await runCli(env, ['show', '-c', '102400', UUID]);
    t.is(shown.code, 0, shown.err);
    t.is(shown.out, expected, 'show -c prints what Nova prints, each line once');
    const status = await runCli(env, ['status', UUID]);
    t.regex(
      status.out,
      new RegExp(`reader chain \\(Nova\\) \\w+: ${expected.length} bytes .*\\(4 boot\\(s\\)\\)`),
    );
  });
}

test('the chain holds the newest chain_bytes: Nova returns exactly the newest 100 KiB', async (t) => {
  const { config, env } = hookEnv();
  const dir = join(config.allowedRoots[0] as string, 'instances', UUID);
  const path = join(dir, 'console.log');
  fs.mkdirSync(dir, { recursive: true });
  const xml = domainXml(forms['pty + <log>']!(path));
  let all = '';
  for (let boot = 1; boot <= 3; boot++) {
    await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
    const out = bootLines(boot, 3000); // 66 KiB a boot
    virtlogdStartsTruncating(path, out);
    if (boot > 1) await waitForChain(path);
    all += out;
    if (boot < 3) await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  }
  const nova = novaConsoleOutputFile(path);
  t.is(nova.length, 100 * 1024);
  t.is(nova.toString(), all.slice(-100 * 1024));
  const shown = await runCli(env, ['show', '-c', '102400', UUID]);
  t.is(shown.out, nova.toString());
  t.is(fs.statSync(`${path}.0`).size, 100 * 1024, 'chain_bytes bounds the file');
});

test('chain_logs = 0 leaves the folder as virtlogd left it', async (t) => {
  const { config, env } = hookEnv({ chainLogs: false });
  fs.appendFileSync(env.VIRT_CONSOLELOG_CONFIG, 'chain_logs = 0\n');
  const dir = join(config.allowedRoots[0] as string, 'instances', UUID);
  const path = join(dir, 'console.log');
  fs.mkdirSync(dir, { recursive: true });
  const xml = domainXml(forms['pty + <log>']!(path));
  for (let boot = 1; boot <= 2; boot++) {
    await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
    fs.writeFileSync(path, bootLines(boot, 3));
  }
  t.deepEqual(fs.readdirSync(dir), ['console.log']);
  t.is(novaConsoleOutputFile(path).toString(), bootLines(2, 3));
});

test('a file that is not sealed (a symlink under a chain name) keeps the chain as it is', async (t) => {
  const { config, env } = hookEnv();
  const dir = join(config.allowedRoots[0] as string, 'instances', UUID);
  const path = join(dir, 'console.log');
  fs.mkdirSync(dir, { recursive: true });
  const xml = domainXml(forms['pty + <log>']!(path));
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.writeFileSync(path, bootLines(1, 3));
  fs.writeFileSync(join(config.base, 'elsewhere'), 'not ours\n');
  fs.symlinkSync(join(config.base, 'elsewhere'), `${path}.0`);
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(fs.readFileSync(path, 'utf8'), bootLines(1, 3));
  t.true(fs.lstatSync(`${path}.0`).isSymbolicLink());
  t.is(fs.readFileSync(join(config.base, 'elsewhere'), 'utf8'), 'not ours\n');
});

test('arrival: the earlier history goes behind the live log, nothing virtlogd writes is touched', async (t) => {
  const { config, env } = hookEnv();
  const dir = join(config.allowedRoots[0] as string, 'instances', UUID);
  const path = join(dir, 'console.log');
  fs.mkdirSync(dir, { recursive: true });
  const truncating = domainXml(forms['pty + <log>']!(path));
  await hook(env, ['guest1', 'prepare', 'begin', '-'], truncating);
  const old = bootLines(1, 50);
  fs.writeFileSync(path, old);
  await hook(env, ['guest1', 'release', 'end', 'migrated'], truncating);
  // As on a host with a private instance folder: virtlogd starts a new console.log.
  fs.unlinkSync(path);
  for (const f of fs.readdirSync(dir)) fs.unlinkSync(join(dir, f));
  const appending = domainXml(
    `<serial type='pty'><log file='${path}' append='on'/><target port='0'/></serial>`,
  );
  await hook(env, ['guest1', 'prepare', 'begin', '-'], appending);
  fs.appendFileSync(path, bootLines(2, 20));
  fs.appendFileSync(`${path}.0`, ''); // virtlogd rolled once: its backup takes .0
  fs.renameSync(`${path}.0`, `${path}.keep`);
  fs.renameSync(path, `${path}.0`);
  fs.renameSync(`${path}.keep`, path);
  fs.appendFileSync(path, bootLines(3, 5));
  const liveBefore = [path, `${path}.0`].map((p) => [fs.statSync(p).ino, fs.readFileSync(p, 'latin1')]);
  const out = await layoutChain(config, UUID, { device: 'serial0', path, mode: 'arrival' });
  t.deepEqual(out.written, { name: 'console.log.1', bytes: Buffer.byteLength(old) });
  t.deepEqual(
    [path, `${path}.0`].map((p) => [fs.statSync(p).ino, fs.readFileSync(p, 'latin1')]),
    liveBefore,
    'virtlogd files untouched',
  );
  const nova = novaConsoleOutputFile(path).toString('latin1');
  t.is(nova, old + liveBefore[1]![1] + liveBefore[0]![1]);
  t.is(readChainState(config, UUID).length, 1);
  // Idempotent: a second fetch adds nothing.
  const again = await layoutChain(config, UUID, { device: 'serial0', path, mode: 'arrival' });
  t.regex(again.skipped ?? '', /already/);
  const shown = await runCli(env, ['show', '-c', '1000000', UUID]);
  t.is(shown.out.split(old).length, 2, 'the chain file is not shown a second time');
});
