// show's pure formatters: times, JSON lines, reverse and tail over items, doctor's colours.
import test from 'ava';
import type { BootInfo } from '../../src/history/reader.js';
import {
  LineAssembler,
  formatLine,
  isoTime,
  lastLines,
  reverseItems,
  type ShowItem,
} from '../../src/cli/show-output.js';
import { colourReport } from '../../src/cli/commands/doctor.js';

const boot = (id: string): BootInfo => ({
  index: 1,
  id,
  host: 'h1',
  at: '2026-12-03T10:00:00.000Z',
  implicit: false,
});
const source = { name: 'web1', uuid: 'u-1' };

function items(): ShowItem[] {
  const a = new LineAssembler(source);
  return [
    ...a.feed({ type: 'boot', boot: boot('b1') }),
    ...a.feed({ type: 'data', data: Buffer.from('one\r\ntw'), host: 'h1', device: 'serial0' }),
    ...a.feed({ type: 'data', data: Buffer.from('o\n'), host: 'h1', device: 'serial0' }),
    ...a.feed({ type: 'boot', boot: boot('b2') }),
    ...a.feed({ type: 'data', data: Buffer.from('three\nfour'), host: 'h1', device: 'serial0' }),
    ...a.flush(),
  ];
}

const text = (xs: ShowItem[]) =>
  xs.map((i) => (i.kind === 'boot' ? `[${i.boot.id}]` : i.line.text.toString()));

test('lines are cut at newlines (CRLF too), across chunks and boots; the last may be unfinished', (t) => {
  const xs = items();
  t.deepEqual(text(xs), ['[b1]', 'one', 'two', '[b2]', 'three', 'four']);
  const last = xs[xs.length - 1] as Extract<ShowItem, { kind: 'line' }>;
  t.false(last.line.complete);
  t.is(last.line.time, Date.parse('2026-12-03T10:00:00.000Z'));
  t.true(last.line.coarse);
});

test('a per-line time from the reader wins over the boot time; live lines take the read time', (t) => {
  const a = new LineAssembler(source);
  a.feed({ type: 'boot', boot: boot('b1') });
  // The capture service's data events carry `time` and `coarse`, which HistoryEvent lacks today.
  const own = a.feed({
    type: 'data',
    data: Buffer.from('x\n'),
    host: 'h',
    device: 'serial0',
    time: 5,
    coarse: false,
  } as never);
  t.like((own[0] as Extract<ShowItem, { kind: 'line' }>).line, { time: 5, coarse: false });
  a.live(1000);
  const live = a.feed({ type: 'data', data: Buffer.from('y\n'), host: 'h', device: 'serial0' }, 1234);
  t.like((live[0] as Extract<ShowItem, { kind: 'line' }>).line, { time: 1234, coarse: true });
});

test('-r keeps each separator in front of its reversed lines; -n keeps the boot of the first kept line', (t) => {
  t.deepEqual(text(reverseItems(items())), ['[b2]', 'four', 'three', '[b1]', 'two', 'one']);
  t.deepEqual(text(lastLines(items(), 3)), ['[b1]', 'two', '[b2]', 'three', 'four']);
  t.deepEqual(text(lastLines(items(), 1)), ['[b2]', 'four']);
  t.deepEqual(lastLines(items(), 0), []);
});

test('formats: json carries name, uuid, device, boot and a coarse time; short-iso as journalctl', (t) => {
  const l = (items()[1] as Extract<ShowItem, { kind: 'line' }>).line;
  const json = JSON.parse(
    formatLine(l, { mode: 'json', withName: false, hostname: true, colour: false }).toString(),
  );
  t.deepEqual(json, {
    type: 'line',
    time: '2026-12-03T10:00:00.000Z',
    coarse: true,
    name: 'web1',
    uuid: 'u-1',
    host: 'h1',
    device: 'serial0',
    boot: 'b1',
    text: 'one',
  });
  t.is(isoTime(Date.parse('2026-12-03T10:00:00Z'), 90), '2026-12-03T11:30:00+0130');
  t.is(isoTime(Date.parse('2026-12-03T10:00:00Z'), -300), '2026-12-03T05:00:00-0500');
  t.is(
    formatLine(l, { mode: 'short-iso', withName: false, hostname: true, colour: false }).toString(),
    `~${isoTime(l.time as number)} h1 web1[serial0]: one\n`,
  );
  t.is(
    formatLine(
      { ...l, coarse: false },
      { mode: 'short-iso-precise', withName: false, hostname: false, colour: false },
    ).toString(),
    `${isoTime(l.time as number, undefined, true)} web1[serial0]: one\n`,
  );
  t.is(isoTime(Date.parse('2026-12-03T10:00:00.042Z'), 0, true), '2026-12-03T10:00:00.042+0000');
  t.is(formatLine(l, { mode: 'cat', withName: false, hostname: true, colour: false }).toString(), 'one\n');
});

test('doctor colours its status words, nothing else', (t) => {
  t.is(
    colourReport('OK    x  fine\nFAIL  y  bad OK\n'),
    '\x1b[32mOK\x1b[0m    x  fine\n\x1b[31mFAIL\x1b[0m  y  bad OK\n',
  );
});
