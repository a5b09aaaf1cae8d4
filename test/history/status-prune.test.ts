import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { listSegments } from '../../src/store/segments.js';
import { formatStatus } from '../../src/cli/commands/status.js';
import { domainXml, hook, hookEnv, runCli, UUID } from '../lifecycle/helpers.js';

const cli = runCli;

test('status reports capture mode, bytes, boots and the last problem', async (t) => {
  const { config, env } = hookEnv();
  const path = join(config.allowedRoots[0] as string, 'inst', 'console.log');
  const xml = domainXml(
    `<serial type='file'><source path='${path}'/><target port='0'/></serial>
     <serial type='file'><source path='/etc/passwd'/><target port='1'/></serial>`,
  );
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  fs.mkdirSync(join(path, '..'), { recursive: true });
  fs.writeFileSync(path, 'boot one\n');
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  const r = await cli(env, ['status', '--json', 'guest1']);
  t.is(r.code, 0, r.err);
  const list = JSON.parse(r.out);
  t.true(Array.isArray(list) && list.length === 1, 'an array with DOMAIN too');
  const s = list[0];
  t.is(s.uuid, UUID);
  t.is(s.hosts[0].mode, 'degraded');
  t.regex(s.hosts[0].why.join(' '), /outside the allowed roots/);
  t.is(s.segments, 1);
  t.is(s.boots, 1);
  t.regex(s.lastProblem.problems.join(' '), /\/etc\/passwd/);
  const text = await cli(env, ['status']);
  t.regex(text.out, /guest1 11111111-2222-3333-4444-555555555555/);
  t.is((await cli(env, ['status', 'nope'])).code, 3);
});

test('prune --dry-run changes nothing; prune applies the cap', async (t) => {
  const { config, env } = hookEnv({ compressMinBytes: -1 });
  // A reader chain beside console.log (src/chain/) would count against the tiny cap below.
  fs.appendFileSync(env.VIRT_CONSOLELOG_CONFIG as string, 'chain_logs = 0\n');
  const path = join(config.allowedRoots[0] as string, 'inst', 'console.log');
  const xml = domainXml(`<serial type='file'><source path='${path}'/><target port='0'/></serial>`);
  fs.mkdirSync(join(path, '..'), { recursive: true });
  for (let i = 0; i < 5; i++) {
    await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
    fs.writeFileSync(path, `boot ${i} `.padEnd(4000, 'x') + '\n');
    await new Promise((r) => setTimeout(r, 15));
  }
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  t.is(listSegments(config, UUID).length, 5);
  const conf = env.VIRT_CONSOLELOG_CONFIG as string;
  fs.appendFileSync(conf, 'domain_cap_bytes = 12000\n');
  const dry = await cli(env, ['prune', '--dry-run', 'guest1']);
  t.is(dry.code, 0, dry.err);
  t.regex(dry.out, /would prune 000000-00000001-hosta/);
  t.is(listSegments(config, UUID).length, 5);
  const real = await cli(env, ['prune', '--all']);
  t.is(real.code, 0, real.err);
  const left = listSegments(config, UUID);
  t.true(left.length < 5 && left.length > 0);
  t.is(left.at(-1)?.key, '000000-00000005-hosta', 'the newest stays');
  t.is((await cli(env, ['prune'])).code, 2);
});

test('status text shows one line per problem, not a stack trace', (t) => {
  const text = formatStatus({
    uuid: '00000000-0000-4000-8000-000000000001',
    name: 'g',
    names: ['g'],
    hosts: [],
    liveBytes: 0,
    archivedBytes: 0,
    archivedPlainBytes: 0,
    segments: 0,
    capBytes: 0,
    boots: 0,
    lastEvent: null,
    lastProblem: {
      at: '2026-11-22T00:00:00.000Z',
      op: 'release end',
      problems: ['failed open: Error: ENOSPC: no space left on device, write\n    at writeSync (node:fs:1)'],
    },
  });
  t.regex(text, /last problem: .* failed open: Error: ENOSPC: no space left on device, write\n/);
  t.notRegex(text, /at writeSync/);
});
