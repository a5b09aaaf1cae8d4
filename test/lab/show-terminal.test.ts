// show on a real terminal and as a shipper's feed, with real guests: a guest that prints hostile
// escape sequences (sets the title, clears the screen, seqguest.asm HOSTILE) is read through a real
// pty (script(1)); nothing of them reaches the terminal raw but its colour, unless --raw. Then
// `show --all -f -o json` follows two printing guests.
import test from 'ava';
import { createGuest } from './guest.js';
import { CLI_JS, lazyLab, type LabHost } from './harness.js';
import * as s from './scenario.js';

const lab = lazyLab({ hosts: ['lab-a'], hook: true });
test.after.always(() => lab.stop());

// Fixed command lines for script -c (its shell): the values come from the environment, never
// spliced into the string.
const ON_TTY = 'exec "$VCL_NODE" "$VCL_CLI" show --no-pager -n 3 "$VCL_DOMAIN"';
const ON_TTY_RAW = 'exec "$VCL_NODE" "$VCL_CLI" show --no-pager --raw -n 3 "$VCL_DOMAIN"';
const ON_TTY_PAGER = 'exec "$VCL_NODE" "$VCL_CLI" show -n 2 "$VCL_DOMAIN"';

async function onTerminal(host: LabHost, command: string, domain: string) {
  const r = await host.exec(['script', '-q', '-e', '-c', command, '/dev/null'], {
    env: { VCL_NODE: process.execPath, VCL_CLI: CLI_JS, VCL_DOMAIN: domain, TERM: 'xterm', PAGER: undefined },
    timeout: 60_000,
  });
  return { code: r.exitCode, out: String(r.stdout) };
}

test.serial(
  'lab: a hostile guest read on a terminal: escapes shown, not obeyed; --raw passes them',
  async (t) => {
    const l = await lab.get();
    const a = l.host('lab-a');
    const g = await createGuest(l, { name: 'hostile', serial: 'pty-log', hostile: true });
    await s.defineAndStart(a, g);
    await s.waitFor('hostile output in the store', async () => {
      const r = await a.cli('show', g.name);
      return (String(r.stdout).match(/seq=\d+/g) ?? []).length >= 3;
    });

    const safe = await onTerminal(a, ON_TTY, g.name);
    t.is(safe.code, 0, safe.out);
    t.false(safe.out.includes('\x1b]0;'), 'no raw OSC title');
    t.false(safe.out.includes('\x1b[2J'), 'no raw clear screen');
    t.false(safe.out.includes('\x07'), 'no raw bell');
    t.true(safe.out.includes('\\x1b]0;pwned-title\\x07\\x1b[2J'), safe.out);
    t.true(safe.out.includes('\x1b[31mseq='), 'the guest colour passes');
    t.true(safe.out.includes('\x1b[34m-- Boot '), 'the boot separator is coloured');

    const raw = await onTerminal(a, ON_TTY_RAW, g.name);
    t.is(raw.code, 0, raw.out);
    t.true(raw.out.includes('\x1b]0;pwned-title\x07\x1b[2J\x1b[31mseq='), 'with --raw the bytes pass');

    // Through the default pager (less, LESS=FRSXMK: one screen, so it quits by itself).
    const paged = await onTerminal(a, ON_TTY_PAGER, g.name);
    t.is(paged.code, 0, paged.out);
    t.false(paged.out.includes('\x1b]0;'));
    t.true(paged.out.includes('pwned-title'));

    // Into a pipe: the guest's bytes, unchanged (the Nova contract).
    // Two lines: the guest runs on, so the last one may still be in the middle of being printed.
    const piped = await a.cli('show', '-n', '2', g.name);
    // eslint-disable-next-line no-control-regex -- the guest's raw escape bytes are the point
    t.regex(String(piped.stdout), /^\x1b\]0;pwned-title\x07\x1b\[2J\x1b\[31mseq=\d+ boot=[0-9a-f]{8}$/m);
  },
);

test.serial(
  'lab: show --all -f -o json emits the lines of two printing guests with their names',
  async (t) => {
    const l = await lab.get();
    const a = l.host('lab-a');
    const g = await createGuest(l, { name: 'plain', serial: 'pty-log' });
    await s.defineAndStart(a, g);
    const feed = a.exec([process.execPath, CLI_JS, 'show', '--all', '-f', '-o', 'json', '-n', '0']);
    const seen = new Map<string, number>();
    let buf = '';
    let bad = 0;
    feed.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const o = JSON.parse(line) as {
            type: string;
            name: string;
            text: string;
            uuid: string;
            device: string;
          };
          if (o.type === 'line' && /seq=\d+ boot=/.test(o.text) && o.uuid && o.device === 'serial0')
            seen.set(o.name, (seen.get(o.name) ?? 0) + 1);
        } catch {
          bad++;
        }
      }
    });
    await s.waitFor(
      'lines of both guests in the feed',
      () => (seen.get('hostile') ?? 0) >= 5 && (seen.get('plain') ?? 0) >= 5,
      {
        timeoutMs: 60_000,
      },
    );
    feed.kill('SIGTERM');
    const r = await feed;
    t.is(bad, 0, 'every line of the feed is one JSON object');
    t.is(String(r.stderr), '');
    t.true((seen.get('hostile') ?? 0) >= 5 && (seen.get('plain') ?? 0) >= 5);
  },
);

test.serial('lab: show -b -1 after DOMAIN, show | head -1, show -f starts with 10 lines', async (t) => {
  const l = await lab.get();
  const a = l.host('lab-a');
  const g = await createGuest(l, { name: 'twoboots', serial: 'pty-log' });
  await s.defineAndStart(a, g);
  await s.waitForSeq(async () => String((await a.cli('show', g.name)).stdout), { minLast: 20 });
  await s.destroy(a, g.name);
  await s.start(a, g.name);
  await s.waitForSeq(async () => String((await a.cli('show', g.name)).stdout), { boots: 2, minLast: 5 });

  const prev = await a.cli('show', g.name, '-b', '-1');
  t.is(prev.exitCode, 0, String(prev.stderr));
  const prevBoots = s.bootsOf(String(prev.stdout));
  t.is(prevBoots.length, 1, 'one boot: the one before the newest');
  const all = s.bootsOf(String((await a.cli('show', g.name)).stdout));
  t.is(prevBoots[0], all[0]);

  // A long history into a pipe that closes after one line.
  await s.waitForSeq(async () => String((await a.cli('show', g.name)).stdout), {
    boots: 2,
    minLast: 2000,
    timeoutMs: 120_000,
  });
  const shown = a.exec([process.execPath, CLI_JS, 'show', g.name]);
  const head = await shown.pipe('head', ['-1']);
  t.regex(String(head.stdout), /^-- Boot /);
  const r = await shown;
  t.is(r.exitCode, 0);
  t.is(String(r.stderr), '');

  // -f on a long history: a paused guest prints nothing, so exactly 10 lines come before following.
  await a.virsh('suspend', g.name);
  const f = a.exec([process.execPath, CLI_JS, 'show', '-f', g.name]);
  let out = '';
  f.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  await s.waitFor('10 lines', () => out.split('\n').filter((x) => x.startsWith('seq=')).length >= 10);
  const first = out;
  await a.virsh('resume', g.name);
  await s.waitFor('output after resume', () => out.length > first.length && out.split('\n').length > 15, {
    timeoutMs: 60_000,
  });
  f.kill('SIGTERM');
  await f;
  const before = first.split('\n').filter((x) => x.startsWith('seq='));
  t.is(before.length, 10, first);
  t.regex(first, /^-- Boot \S+ on lab-a at \S+ --\n/);
});

test.serial('lab: a user in the reading group runs show and status; one outside gets one line', async (t) => {
  const l = await lab.get();
  const a = l.host('lab-a');
  // What the package does (packaging/maint.sh vcl_store_group), with numeric ids: no user or group
  // needs to exist on this machine for setpriv.
  const store = '/var/log/libvirt/consolelog';
  for (const argv of [
    ['chgrp', '-R', '-h', '4711', store],
    ['find', store, '-type', 'd', '-exec', 'chmod', 'g+rxs', '{}', '+'],
    ['chmod', '2750', store],
  ])
    t.is((await a.exec(argv)).exitCode, 0, argv.join(' '));
  const asUser = (group: number, ...args: string[]) =>
    a.exec([
      'setpriv',
      '--reuid=4242',
      '--regid=4242',
      `--groups=${group}`,
      process.execPath,
      CLI_JS,
      ...args,
    ]);
  // twoboots' first boot is sealed (destroyed and started again): a member reads it.
  const show = await asUser(4711, 'show', 'twoboots', '-b', '1');
  t.is(show.exitCode, 0, String(show.stderr));
  t.regex(String(show.stdout), /^-- Boot \S+ on lab-a at \S+ --\nseq=00000000 boot=/);
  const status = await asUser(4711, 'status', 'twoboots');
  t.is(status.exitCode, 0, String(status.stderr));
  t.regex(String(status.stdout), /^twoboots /);
  for (const cmd of ['show', 'status']) {
    const denied = await asUser(4712, cmd, 'twoboots');
    t.is(denied.exitCode, 1);
    t.regex(
      String(denied.stderr),
      /^virt-consolelog \S+: cannot read \/var\/log\/libvirt\/consolelog: the store is readable by root and the group virt-consolelog \(.*\)$/,
    );
    t.is(String(denied.stderr).split('\n').length, 1);
  }
});
