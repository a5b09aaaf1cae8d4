// The terminal sanitiser on hostile guest output: nothing but SGR colours and printable text
// reaches the terminal raw, whatever the chunking.
import test from 'ava';
import { TerminalSanitizer, sanitizeForTerminal } from '../../src/terminal/sanitize.js';
import { choosePager } from '../../src/terminal/pager.js';
import { useColour } from '../../src/terminal/colour.js';

const clean = (s: string | Buffer) =>
  sanitizeForTerminal(Buffer.from(s), undefined, true).out.toString('latin1');

/** Valid UTF-8 without any code point a terminal would obey, once whole SGR sequences and CRLF are taken out. */
function harmless(out: Buffer): boolean {
  const text = out.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(out)) return false;
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  const rest = text.replace(/\x1b\[[0-9;:]*m/g, '').replace(/\r\n/g, '\n');
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  return !/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u.test(rest);
}

test('SGR colours and text pass; CRLF and tabs pass', (t) => {
  t.is(clean('\x1b[1;31mred\x1b[0m plain\ttab\r\n'), '\x1b[1;31mred\x1b[0m plain\ttab\r\n');
  t.is(clean('\x1b[38:5:208mx\x1b[m'), '\x1b[38:5:208mx\x1b[m');
  t.is(clean('héllo wörld €𝄞\n'), Buffer.from('héllo wörld €𝄞\n').toString('latin1'));
});

test('OSC title, CSI clear and cursor moves, DCS, bell, backspace: shown escaped', (t) => {
  t.is(clean('\x1b]0;pwned\x07'), '\\x1b]0;pwned\\x07');
  t.is(clean('\x1b]8;;http://evil\x1b\\link'), '\\x1b]8;;http://evil\\x1b\\link');
  t.is(clean('\x1b[2J\x1b[H'), '\\x1b[2J\\x1b[H');
  t.is(clean('\x1b[6n'), '\\x1b[6n');
  t.is(clean('\x1bP+q544e\x1b\\'), '\\x1bP+q544e\\x1b\\');
  t.is(clean('a\bb\x7f'), 'a\\x08b\\x7f');
  t.is(clean('over\rwrite\n'), 'over\\x0dwrite\n');
  t.is(clean('\x1bc'), '\\x1bc');
});

test('C1 controls, invalid UTF-8 and bidi overrides are shown escaped', (t) => {
  t.is(clean(Buffer.from([0x9b, 0x32, 0x4a])), '\\x9b2J');
  t.is(clean(Buffer.from('\u009b2J')), '\\u{9b}2J');
  t.is(clean(Buffer.from([0xc0, 0xaf])), '\\xc0\\xaf');
  t.is(clean(Buffer.from([0xed, 0xa0, 0x80])), '\\xed\\xa0\\x80');
  t.is(clean('a\u202eb'), 'a\\u{202e}b');
});

test('a sequence cut across chunks is judged whole', (t) => {
  const input = Buffer.from('x\x1b[31mred\x1b]0;t\x07€\r\n');
  for (let cut = 0; cut <= input.length; cut++) {
    const s = new TerminalSanitizer();
    const out = Buffer.concat([s.feed(input.subarray(0, cut)), s.feed(input.subarray(cut)), s.flush()]);
    t.is(out.toString('latin1'), clean(input), `cut at ${cut}`);
  }
  // An unfinished sequence at the very end is shown, not dropped.
  t.is(clean('tail\x1b['), 'tail\\x1b[');
});

test('random hostile bytes never reach the terminal raw', (t) => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let round = 0; round < 300; round++) {
    const bytes = Buffer.alloc(200);
    for (let i = 0; i < bytes.length; i++) {
      const r = rnd() % 10;
      bytes[i] = r < 3 ? 0x1b : r < 4 ? [0x5b, 0x5d, 0x50, 0x6d, 0x3b][rnd() % 5]! : rnd() % 256;
    }
    const s = new TerminalSanitizer();
    const out = Buffer.concat([s.feed(bytes.subarray(0, 97)), s.feed(bytes.subarray(97)), s.flush()]);
    t.true(harmless(out), `round ${round}: ${JSON.stringify(out.toString('latin1'))}`);
  }
});

test('pager and colour follow journalctl: environment, terminal, NO_COLOR', (t) => {
  t.is(choosePager({}, false, false), undefined);
  t.is(choosePager({}, true, true), undefined);
  t.deepEqual(choosePager({}, true, false)?.argv, ['less']);
  t.is(choosePager({}, true, false)?.env.LESS, 'FRSXMK');
  t.is(choosePager({ SYSTEMD_LESS: 'R' }, true, false)?.env.LESS, 'R');
  t.deepEqual(choosePager({ PAGER: 'more -d' }, true, false)?.argv, ['more', '-d']);
  t.deepEqual(choosePager({ PAGER: 'more', SYSTEMD_PAGER: 'most' }, true, false)?.argv, ['most']);
  t.is(choosePager({ PAGER: 'cat' }, true, false), undefined);
  t.is(choosePager({ SYSTEMD_PAGER: '' }, true, false), undefined);
  t.true(useColour({}, true));
  t.false(useColour({}, false));
  t.false(useColour({ NO_COLOR: '1' }, true));
  t.true(useColour({ NO_COLOR: '' }, true));
  t.false(useColour({ TERM: 'dumb' }, true));
});
