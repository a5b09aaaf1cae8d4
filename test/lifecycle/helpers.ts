// Runs the real hook shell (runHook) against a temp store, as libvirt would call it.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { runHook } from '../../src/lifecycle/run.js';
import { tempConfig, UUID } from '../store/helpers.js';

export { UUID };

/**
 * A config file in `root` whose store, live and state folders are all inside it (host hosta, no
 * automatic definition upgrade): for running the built hook without a namespace. Returns its path.
 */
export async function writeFolderConfig(root: string): Promise<string> {
  const conf = join(root, 'virt-consolelog.conf');
  await fs.promises.writeFile(
    conf,
    [
      `log_root = "${root}/store"`,
      `live_dir = "${root}/live"`,
      `state_dir = "${root}/state"`,
      'host_name = "hosta"',
      `allowed_roots = [ "${root}/store" ]`,
      'auto_enable = 0',
    ].join('\n') + '\n',
  );
  return conf;
}

export function hookEnv(over: Parameters<typeof tempConfig>[0] = {}) {
  const config = tempConfig(over);
  const file = join(config.base, 'virt-consolelog.conf');
  fs.writeFileSync(
    file,
    [
      `log_root = "${config.logRoot}"`,
      `live_dir = "${config.liveDir}"`,
      `state_dir = "${config.stateDir}"`,
      `host_name = "${config.hostName}"`,
      `allowed_roots = [ ${config.allowedRoots.map((r) => `"${r}"`).join(', ')} ]`,
      `compress_min_bytes = ${config.compressMinBytes}`,
      `domain_cap_bytes = ${config.domainCapBytes}`,
      '',
    ].join('\n'),
  );
  return { config, env: { VIRT_CONSOLELOG_CONFIG: file, PATH: process.env.PATH } };
}

const sink = (f: (s: string) => void) =>
  new Writable({
    write(c, _e, cb) {
      f(String(c));
      cb();
    },
  });

/** Runs the CLI in-process with `env` (its config), stdin empty; stdout and stderr as text. */
export async function runCli(
  env: NodeJS.ProcessEnv,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdin = new PassThrough();
  stdin.end();
  const code = await main(args, {
    stdin,
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    env,
  });
  return { code, out, err };
}

export async function hook(
  env: NodeJS.ProcessEnv,
  argv: string[],
  xml: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  stdin.end(xml);
  let stdout = '';
  let stderr = '';
  const code = await runHook({
    argv,
    stdin,
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    env,
  });
  return { code, stdout, stderr };
}

export function domainXml(devices: string, name = 'guest1', meta = ''): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${UUID}</uuid>
  ${meta}<memory unit='KiB'>32768</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
${devices}
  </devices>
</domain>
`;
}
