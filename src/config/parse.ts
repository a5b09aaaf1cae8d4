// Pure parser for virt-consolelog.conf, in the syntax of libvirt's own .conf files:
//   key = "string" | 123 | 0/1 | [ "a", "b" ]   (# starts a comment; lists may span lines)
import { DEFAULTS, KEYS, type Config, type KeySpec } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly key: string | undefined,
    message: string,
  ) {
    super(`${file}:${line}: ${key ? `${key}: ` : ''}${message}`);
    this.name = 'ConfigError';
  }
}

export interface ParseResult {
  config: Config;
  errors: ConfigError[];
}

/** Parses config text; every bad line is reported and its key keeps its default. */
export function parseConfig(text: string, file = 'virt-consolelog.conf'): ParseResult {
  const config: Config = structuredClone({ ...DEFAULTS }) as Config;
  const errors: ConfigError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let statement = stripComment(lines[i] ?? '').trim();
    if (statement === '') continue;
    // A list value may continue on the following lines until its closing bracket.
    if (/=\s*\[/.test(statement) && !statement.includes(']')) {
      while (i + 1 < lines.length && !statement.includes(']')) {
        i++;
        statement += ' ' + stripComment(lines[i] ?? '').trim();
      }
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(statement);
    if (!m) {
      errors.push(
        new ConfigError(file, lineNo, undefined, `expected "key = value", got ${JSON.stringify(statement)}`),
      );
      continue;
    }
    const [, name = '', raw = ''] = m;
    const spec = KEYS[name];
    if (!spec) {
      errors.push(new ConfigError(file, lineNo, name, 'unknown key'));
      continue;
    }
    try {
      assign(config, spec, parseValue(spec, raw.trim()));
    } catch (e) {
      errors.push(new ConfigError(file, lineNo, name, (e as Error).message));
    }
  }
  return { config, errors };
}

function stripComment(line: string): string {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && inString) i++;
    else if (c === '"') inString = !inString;
    else if (c === '#' && !inString) return line.slice(0, i);
  }
  return line;
}

function parseString(raw: string): string {
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(raw);
  if (!m) throw new Error(`expected a double-quoted string, got ${raw}`);
  return (m[1] ?? '').replace(/\\(.)/g, '$1');
}

function parseValue(spec: KeySpec, raw: string): string | number | boolean | string[] {
  switch (spec.kind) {
    case 'string': {
      const s = parseString(raw);
      if (s.includes('\0')) throw new Error('NUL in value');
      return s;
    }
    case 'enum': {
      const s = parseString(raw);
      if (!spec.values?.includes(s)) throw new Error(`must be one of ${spec.values?.join(', ')}, got "${s}"`);
      return s;
    }
    case 'bool':
      if (raw === '1') return true;
      if (raw === '0') return false;
      throw new Error(`expected 0 or 1, got ${raw}`);
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw new Error(`expected an integer, got ${raw}`);
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n < -1) throw new Error(`out of range: ${raw}`);
      return n;
    }
    case 'number': {
      if (!/^\d+(\.\d+)?$/.test(raw))
        throw new Error(`expected a number of at least 0 such as 30 or 0.5, got ${raw}`);
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new Error(`out of range: ${raw}`);
      return n;
    }
    case 'mode': {
      const s = raw.startsWith('"') ? parseString(raw) : raw;
      if (!/^0?[0-7]{3}$/.test(s)) throw new Error(`expected an octal file mode such as 0640, got ${raw}`);
      const mode = parseInt(s, 8);
      if (mode & 0o7002) throw new Error(`mode ${s} would make logs world-writable or special`);
      return mode;
    }
    case 'list': {
      const m = /^\[(.*)\]$/.exec(raw);
      if (!m) throw new Error(`expected a list such as [ "a", "b" ], got ${raw}`);
      const body = (m[1] ?? '').trim();
      if (body === '') return [];
      const items: string[] = [];
      const re = /\s*("(?:[^"\\]|\\.)*")\s*(,|$)/y;
      let pos = 0;
      while (pos < body.length) {
        re.lastIndex = pos;
        const item = re.exec(body);
        if (!item) throw new Error(`bad list item at ${JSON.stringify(body.slice(pos))}`);
        items.push(parseString(item[1] ?? '""'));
        pos = re.lastIndex;
      }
      return items;
    }
  }
}

function assign(config: Config, spec: KeySpec, value: string | number | boolean | string[]): void {
  if (
    spec.key === 'allowedRoots' ||
    spec.key === 'logRoot' ||
    spec.key === 'liveDir' ||
    spec.key === 'stateDir' ||
    spec.key === 'sshKey'
  ) {
    for (const p of Array.isArray(value) ? value : [value]) {
      if (typeof p === 'string' && !p.startsWith('/'))
        throw new Error(`must be an absolute path, got "${p}"`);
    }
  }
  (config as unknown as Record<string, unknown>)[spec.key] = value;
}
