// Test hosts for the transfer tests: one store + state folder + config file per "host" in a temp
// folder, real store code (seal, import), and the real CLI (dist/) as each host's export command.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Writable } from 'node:stream';
import { parseConfig } from '../../src/config/parse.js';
import type { Config } from '../../src/config/schema.js';
import { main } from '../../src/cli/main.js';
import { withHost } from '../../src/store/domain-state.js';
import { liveLogPath } from '../../src/store/layout.js';
import { sealHost } from '../../src/store/seal.js';
import { withStore } from '../../src/store/session.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_JS = join(REPO_ROOT, 'dist', 'virt-consolelog.mjs');

export interface TestHost {
  name: string;
  config: Config;
  configFile: string;
}

export interface World {
  dir: string;
  host(name: string, extra?: string): TestHost;
  cleanup(): void;
}

/** Hosts share `dir`; transport "command" runs the built CLI with `{host}`'s config file. */
export function makeWorld(): World {
  const dir = mkdtempSync(join(tmpdir(), 'vcl-transfer-'));
  return {
    dir,
    host(name, extra = '') {
      const configFile = join(dir, `${name}.conf`);
      const text = [
        `host_name = "${name}"`,
        `log_root = "${join(dir, name, 'log')}"`,
        `live_dir = "${join(dir, name, 'live')}"`,
        `state_dir = "${join(dir, name, 'state')}"`,
        `allowed_roots = [ "${join(dir, 'shared')}", "${join(dir, name, 'log')}" ]`,
        `transport = "command"`,
        `transport_command = [ "${process.execPath}", "${CLI_JS}", "--config", "${join(dir, '{host}.conf')}", "serve-export" ]`,
        `transfer_timeout_seconds = 20`,
        `lock_wait_ms = 2000`,
        `compress_min_bytes = -1`,
        extra,
      ].join('\n');
      writeFileSync(configFile, text);
      const { config, errors } = parseConfig(text, configFile);
      if (errors.length) throw new Error(errors.map((e) => e.message).join('; '));
      mkdirSync(config.logRoot, { recursive: true });
      return { name, config, configFile };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Appends `text` to a device's live file of `host` (in its live_dir unless `path` is given) and records it in domain.json. */
export async function write(
  h: TestHost,
  uuid: string,
  text: string,
  opts: { device?: string; generation?: number; path?: string } = {},
): Promise<string> {
  const device = opts.device ?? 'serial0';
  const path = opts.path ?? liveLogPath(h.config.liveDir, uuid, device);
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, text);
  await withStore(h.config, uuid, (s) => {
    s.domain = withHost(s.domain, h.name, {
      generation: opts.generation ?? 0,
      devices: { [device]: { path, kind: 'log', truncating: false } },
    });
  });
  return path;
}

export async function seal(h: TestHost, uuid: string, reason = 'stop'): Promise<void> {
  await sealHost(h.config, uuid, h.name, reason);
}

export interface CliRun {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs the CLI in-process (for coverage of argument handling), stdout captured as bytes. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  // Copied as written, as a process's stdout on Linux does (synchronous): the CLI reuses its buffers.
  const stdout = new Writable({ write: (c: Buffer, _e, done) => done(void out.push(Buffer.from(c))) });
  const stderr = new Writable({ write: (c: Buffer, _e, done) => done(void err.push(Buffer.from(c))) });
  const code = await main(args, { stdin: new PassThrough(), stdout, stderr, env });
  await new Promise((r) => setImmediate(r));
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
}

export function lines(prefix: string, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `${prefix} seq=${String(i).padStart(6, '0')}\n`;
  return s;
}
