// Reads the config file (path from --config, VIRT_CONSOLELOG_CONFIG, or the default).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError, parseConfig } from './parse.js';
import { DEFAULT_CONFIG_PATH, DEFAULTS, type Config } from './schema.js';

export interface LoadedConfig {
  config: Config;
  path: string;
  /** Problems found; the keys concerned kept their defaults. */
  errors: ConfigError[];
}

export function configPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.VIRT_CONSOLELOG_CONFIG || DEFAULT_CONFIG_PATH;
}

/** Loads the config; a missing file means defaults, an unreadable one is reported and defaults used. */
export function loadConfig(flag?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = configPath(flag, env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const config = resolveHostName(structuredClone({ ...DEFAULTS }) as Config);
    if (err.code === 'ENOENT') return { config, path, errors: [] };
    return {
      config: withoutUnconfirmedUpgrade(config, true),
      path,
      errors: [new ConfigError(path, 0, undefined, `cannot read: ${err.code ?? err.message}`)],
    };
  }
  const { config, errors } = parseConfig(text, path);
  return {
    config: withoutUnconfirmedUpgrade(resolveHostName(config), errors.some(withholdsUpgrade)),
    path,
    errors,
  };
}

/** A file we could not read, or an invalid auto_enable line, may be the operator turning it off. */
const withholdsUpgrade = (e: ConfigError) => e.line === 0 || e.key === 'auto_enable';

/** The automatic mode rewrites persistent definitions: only a config that says so turns it on. */
function withoutUnconfirmedUpgrade(config: Config, unclear: boolean): Config {
  if (unclear) config.autoEnable = false;
  return config;
}

/** A config problem and what was used instead, as hooks, the CLI and doctor print it. */
export function describeConfigError(e: ConfigError): string {
  const used = e.line === 0 ? 'defaults used' : 'default used';
  return `${e.message} (${withholdsUpgrade(e) ? `${used}, but auto_enable off until the config reads cleanly` : used})`;
}

function resolveHostName(config: Config): Config {
  if (!config.hostName) config.hostName = hostname();
  return config;
}
