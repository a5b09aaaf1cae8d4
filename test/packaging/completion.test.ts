// Bash completion: commands and options come from the installed CLI's own help.
import test from 'ava';
import { execa } from 'execa';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './packages.js';
import { liveLogPath } from '../../src/store/layout.js';
import { domainXml, hook, hookEnv, UUID } from '../lifecycle/helpers.js';

async function complete(line: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const bin = mkdtempSync(join(tmpdir(), 'vcl-compl-'));
  try {
    symlinkSync(join(REPO_ROOT, 'dist/virt-consolelog.mjs'), join(bin, 'virt-consolelog'));
    const words = line.split(' ');
    const script = [
      `source ${join(REPO_ROOT, 'packaging/virt-consolelog.bash-completion')}`,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      `COMP_LINE='${line}'`,
      `COMP_POINT=${line.length}`,
      '_virt_consolelog',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const r = await execa('bash', ['--norc', '--noprofile', '-c', script], {
      env: { PATH: `${bin}:${process.env.PATH}`, ...extraEnv },
    });
    return r.stdout.split('\n').filter(Boolean).sort();
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

test('completes command names from --help, options from COMMAND --help', async (t) => {
  t.deepEqual(await complete('virt-consolelog do'), ['doctor']);
  const all = await complete('virt-consolelog ');
  t.true(all.includes('doctor') && all.includes('help'), all.join(' '));
  t.deepEqual(await complete('virt-consolelog --config /etc/x doc'), ['doctor']);
  t.deepEqual(await complete('virt-consolelog doctor --j'), ['--json']);
  t.deepEqual(await complete('virt-consolelog help doc'), ['doctor']);
  t.deepEqual(await complete('virt-consolelog --ver'), ['--version']);
});

test('domains come from libvirt and from the store (undefined and migrated-away ones too)', async (t) => {
  const { config, env } = hookEnv();
  const live = liveLogPath(config.liveDir, UUID, 'serial0');
  const xml = domainXml(
    `<serial type='pty'><log file='${live}' append='on'/><target port='0'/></serial>`,
    'gone-guest',
  );
  await hook(env, ['gone-guest', 'prepare', 'begin', '-'], xml);
  // libvirt's test driver has one domain, "test"; gone-guest is only in the store.
  const extra = {
    VIRT_CONSOLELOG_CONFIG: env.VIRT_CONSOLELOG_CONFIG,
    LIBVIRT_DEFAULT_URI: 'test:///default',
  };
  t.deepEqual(await complete('virt-consolelog show ', extra), ['gone-guest', 'test']);
  t.deepEqual(await complete('virt-consolelog show -n 5 go', extra), ['gone-guest']);
  t.deepEqual(await complete('virt-consolelog show x -o ', extra), ['cat', 'json', 'short', 'short-iso']);
});
