// Bash completion: commands and options come from the installed CLI's own help.
import test from 'ava';
import { execa } from 'execa';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './packages.js';

async function complete(line: string): Promise<string[]> {
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
      env: { PATH: `${bin}:${process.env.PATH}` },
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
