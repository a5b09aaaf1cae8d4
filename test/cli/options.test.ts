// One grammar for every command: table-driven over the registry, each option of each command is
// parsed the same in every spelling and place (before, after or between positionals).
import test from 'ava';
import { COMMANDS } from '../../src/cli/registry.js';
import {
  GLOBAL_OPTIONS,
  SHORT_OPTIONS,
  isBootSelector,
  normaliseArgs,
  parseCommandLine,
  type OptionTable,
} from '../../src/cli/options.js';
import { UsageError } from '../../src/cli/command.js';
import { parseShowArgs } from '../../src/cli/commands/show.js';

/** Every command that parses options (serve-export takes a peer's request words: none). */
const tables = async (): Promise<[string, OptionTable][]> => {
  const loaded = await Promise.all(COMMANDS.map(async (c) => ({ name: c.name, command: await c.load() })));
  return loaded.filter((c) => !c.command.rawArgs).map((c) => [c.name, c.command.options]);
};

test('only serve-export takes its arguments as they are', async (t) => {
  const raw = [];
  for (const c of COMMANDS) if ((await c.load()).rawArgs) raw.push(c.name);
  t.deepEqual(raw, ['serve-export']);
});

/** A value the option accepts whatever its meaning (a plain word, also for -b's boot ids). */
const VALUE = 'abc123';

test('every option of every command parses the same in every spelling and place', async (t) => {
  for (const [name, options] of await tables()) {
    const table = { ...GLOBAL_OPTIONS, ...options };
    for (const [opt, spec] of Object.entries(table)) {
      const want = spec.type === 'string' ? VALUE : true;
      const spellings: string[][] =
        spec.type === 'string' ? [[`--${opt}=${VALUE}`], [`--${opt}`, VALUE]] : [[`--${opt}`]];
      if (spec.short) spellings.push(spec.type === 'string' ? [`-${spec.short}`, VALUE] : [`-${spec.short}`]);
      if (spec.short && spec.type === 'string') spellings.push([`-${spec.short}${VALUE}`]);
      for (const s of spellings)
        for (const args of [
          [...s, 'dom'],
          ['dom', ...s],
          ['dom', ...s, 'other'],
        ]) {
          const r = parseCommandLine(args, options);
          t.deepEqual(r.values[opt], want, `${name} ${args.join(' ')}`);
          t.deepEqual(
            r.positionals,
            args.includes('other') ? ['dom', 'other'] : ['dom'],
            `${name} ${args.join(' ')}`,
          );
        }
      if (spec.type === 'boolean')
        t.throws(() => parseCommandLine([`--${opt}=x`], options), {
          instanceOf: UsageError,
          message: /takes no value/,
        });
    }
    t.throws(
      () => parseCommandLine(['--no-such-option'], options),
      {
        instanceOf: UsageError,
        message: 'unknown option --no-such-option',
      },
      name,
    );
    // `--` ends the options: a domain may start with a dash.
    t.deepEqual(parseCommandLine(['--', '-odd'], options).positionals, ['-odd'], name);
  }
});

test('a short option means the same long option in every command', async (t) => {
  for (const [name, options] of await tables())
    for (const [opt, spec] of Object.entries({ ...GLOBAL_OPTIONS, ...options }))
      if (spec.short)
        t.is(SHORT_OPTIONS[spec.short], opt, `${name}: -${spec.short} is --${SHORT_OPTIONS[spec.short]}`);
});

test('values may start with a dash; short options group as getopt does', (t) => {
  const table: OptionTable = {
    since: { type: 'string', short: 'S' },
    follow: { type: 'boolean', short: 'f' },
    lines: { type: 'string', short: 'n' },
  };
  t.like(parseCommandLine(['--since', '-2h', 'x'], table).values, { since: '-2h' });
  t.like(parseCommandLine(['-fn5', 'x'], table).values, { follow: true, lines: '5' });
  t.like(parseCommandLine(['x', '-fn', '7'], table).values, { follow: true, lines: '7' });
  t.throws(() => parseCommandLine(['x', '--lines'], table), { message: '--lines needs a value' });
  t.throws(() => parseCommandLine(['-z'], table), { message: 'unknown option -z' });
});

test('-b takes an optional value, before or after DOMAIN (journalctl)', (t) => {
  const boot = (...args: string[]) => {
    const o = parseShowArgs(args);
    return [o.boot, o.domain];
  };
  t.deepEqual(boot('web1', '-b', '-1'), ['-1', 'web1']);
  t.deepEqual(boot('-b', '-1', 'web1'), ['-1', 'web1']);
  t.deepEqual(boot('web1', '-b'), ['', 'web1']);
  t.deepEqual(boot('-b', 'web1'), ['', 'web1']);
  t.deepEqual(boot('web1', '-b', '0'), ['0', 'web1']);
  t.deepEqual(boot('web1', '--boot=-2'), ['-2', 'web1']);
  t.deepEqual(boot('--boot', '3', 'web1'), ['3', 'web1']);
  t.deepEqual(boot('web1', '-b-1'), ['-1', 'web1']);
  // A boot id after -b is its value when a DOMAIN is left; alone it is the DOMAIN.
  t.deepEqual(boot('-b', 'a1b2c3d4e5', 'web1'), ['a1b2c3d4e5', 'web1']);
  t.deepEqual(boot('web1', '-b', 'a1b2c3d4e5'), ['a1b2c3d4e5', 'web1']);
  t.deepEqual(boot('-b', 'deadbeef'), ['', 'deadbeef']);
  t.deepEqual(boot('-fb', 'web1'), ['', 'web1']);
  t.true(isBootSelector('-12') && isBootSelector('0') && !isBootSelector('web1'));
});

test('--config and --help are accepted anywhere, by every command', async (t) => {
  for (const [name, options] of await tables()) {
    t.like(
      parseCommandLine(['x', '--config', '/etc/y.conf'], options).values,
      { config: '/etc/y.conf' },
      name,
    );
    t.like(parseCommandLine(['x', '-h'], options).values, { help: true }, name);
  }
});

test('normaliseArgs puts every value inline and leaves what follows -- alone', (t) => {
  const table: OptionTable = { lines: { type: 'string', short: 'n' }, all: { type: 'boolean' } };
  t.deepEqual(normaliseArgs(['-n', '-3', '--all', '--', '-n', 'x'], table), [
    '--lines=-3',
    '--all',
    '--',
    '-n',
    'x',
  ]);
});

test('show: -f starts with the last 10 lines unless -n or -c says otherwise; exclusions', (t) => {
  t.is(parseShowArgs(['-f', 'x']).lines, 10);
  t.is(parseShowArgs(['-f', 'x', '-n', '0']).lines, 0);
  t.is(parseShowArgs(['-f', 'x', '-c', '100']).lines, undefined);
  t.is(parseShowArgs(['x']).lines, undefined);
  t.is(parseShowArgs(['x', '--json']).output, 'json');
  t.is(parseShowArgs(['x', '-o', 'short-iso']).output, 'short-iso');
  t.throws(() => parseShowArgs(['x', '-o', 'verbose']), { message: /--output: one of/ });
  t.throws(() => parseShowArgs(['x', '-r', '-f']), { message: /-r and -f/ });
  t.throws(() => parseShowArgs(['x', '-c', '5', '-o', 'json']), { message: /-c prints raw bytes/ });
  t.throws(() => parseShowArgs(['x', '-g', '(']), { message: /--grep/ });
  t.throws(() => parseShowArgs(['--all', 'x']), { message: /no DOMAIN/ });
  t.is(parseShowArgs(['--all', '-f', '-o', 'json']).domain, undefined);
  t.throws(() => parseShowArgs([]), { message: 'DOMAIN missing' });
});
