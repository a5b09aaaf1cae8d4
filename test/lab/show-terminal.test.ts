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
    const piped = await a.cli('show', '-n', '1', g.name);
    // eslint-disable-next-line no-control-regex -- the guest's raw escape bytes are the point
    t.regex(String(piped.stdout), /\x1b\]0;pwned-title\x07\x1b\[2J\x1b\[31mseq=\d+ boot=[0-9a-f]{8}$/);
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
