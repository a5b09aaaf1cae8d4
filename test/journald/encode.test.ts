import test from 'ava';
import {
  MAX_MESSAGE_BYTES,
  encodeEntry,
  encodeFramed,
  encodeLineFramed,
  frame,
  isPlainText,
  leftOutMessage,
  lineFields,
  lineTail,
  reportFields,
} from '../../src/journald/encode.js';
import type { CapturedLine } from '../../src/capture/sink.js';
import { decode } from './decode.js';

const line = (text: Buffer, boot: string | null = 'b1'): CapturedLine => ({
  time: 1,
  domain: 'web1',
  uuid: '6f0c9a4e-4c1b-4d7a-9a57-2a8f2f3f9b11',
  device: 'serial0',
  boot,
  text,
});

test('a UTF-8 line goes as KEY=value with the guest identity fields', (t) => {
  const e = encodeEntry(lineFields(line(Buffer.from('Booting Linux… ok'))));
  t.true(e.includes(Buffer.from('MESSAGE=Booting Linux… ok\n')));
  t.deepEqual(
    decode(e).map(([k, v]) => [k, v.toString()]),
    [
      ['MESSAGE', 'Booting Linux… ok'],
      ['PRIORITY', '6'],
      ['SYSLOG_IDENTIFIER', 'console/web1'],
      ['VIRT_DOMAIN_NAME', 'web1'],
      ['VIRT_DOMAIN_UUID', '6f0c9a4e-4c1b-4d7a-9a57-2a8f2f3f9b11'],
      ['VIRT_DEVICE', 'serial0'],
      ['VIRT_BOOT_ID', 'b1'],
    ],
  );
});

test('non-UTF-8 bytes, control bytes and NUL go in the binary-safe form, byte for byte', (t) => {
  for (const bytes of [
    Buffer.from([0x66, 0xff, 0xfe, 0x00, 0x41]),
    Buffer.from('\x1b[1;32mOK\x1b[0m\r'),
    Buffer.from([0xc3]), // a cut UTF-8 sequence
  ]) {
    t.false(isPlainText(bytes));
    const e = encodeEntry(lineFields(line(bytes)));
    t.true(
      e.includes(Buffer.concat([Buffer.from('MESSAGE\n'), Buffer.from([bytes.length, 0, 0, 0, 0, 0, 0, 0])])),
    );
    t.deepEqual(decode(e)[0], ['MESSAGE', bytes]);
  }
  t.true(isPlainText(Buffer.from('tab\there')));
});

test('an empty line is an entry with an empty MESSAGE; no boot id, no VIRT_BOOT_ID', (t) => {
  const d = decode(encodeEntry(lineFields(line(Buffer.alloc(0), null))));
  t.deepEqual(d[0], ['MESSAGE', Buffer.alloc(0)]);
  t.false(d.some(([k]) => k === 'VIRT_BOOT_ID'));
});

test('a line longer than MAX_MESSAGE_BYTES is cut to it, its length in VIRT_LINE_BYTES (never split into two entries)', (t) => {
  const long = Buffer.alloc(MAX_MESSAGE_BYTES + 10, 0x61);
  const d = decode(encodeEntry(lineFields(line(long))));
  t.is(d[0]?.[1].length, MAX_MESSAGE_BYTES);
  t.deepEqual(d.find(([k]) => k === 'VIRT_LINE_BYTES')?.[1].toString(), String(MAX_MESSAGE_BYTES + 10));
});

test('hostile domain names stay inside their field values', (t) => {
  const l = { ...line(Buffer.from('x')), domain: 'evil\nMESSAGE=forged' };
  const d = decode(encodeEntry(lineFields(l)));
  t.is(d.filter(([k]) => k === 'MESSAGE').length, 1);
  t.deepEqual(d.find(([k]) => k === 'VIRT_DOMAIN_NAME')?.[1].toString(), 'evil\nMESSAGE=forged');
});

test('bad field names are refused', (t) => {
  t.throws(() => encodeEntry([['_PID', '1']]));
  t.throws(() => encodeEntry([['lower', '1']]));
  t.throws(() => encodeEntry([['A=B', '1']]));
});

test('the left-out report names the guest, the counts and where the lines are', (t) => {
  const r = { domain: 'web1', uuid: 'u', lines: 1234, bytes: 99999, seconds: 10, rateLines: 200 };
  t.is(
    leftOutMessage(r),
    'virt-consolelog: 1234 console lines (99999 bytes) of web1 left out of the journal in the last 10 s (bound: 200 lines/s per guest); the store has them: virt-consolelog show web1',
  );
  const d = Object.fromEntries(decode(encodeEntry(reportFields(r))).map(([k, v]) => [k, v.toString()]));
  t.is(d.VIRT_LEFT_OUT_LINES, '1234');
  t.is(d.PRIORITY, '4');
  t.is(d.VIRT_DOMAIN_NAME, 'web1');
});

test('frame: a 4-byte big-endian length, then the entry', (t) => {
  t.deepEqual(frame(Buffer.from('abc')), Buffer.from([0, 0, 0, 3, 0x61, 0x62, 0x63]));
});

test('encodeFramed is frame(encodeEntry(...)) in one buffer, plain and binary fields alike', (t) => {
  for (const text of [Buffer.from('plain line'), Buffer.from([0x41, 0x1b, 0x5b, 0xff, 0x0a])])
    t.deepEqual(encodeFramed(lineFields(line(text))), frame(encodeEntry(lineFields(line(text)))));
  t.throws(() => encodeFramed([['lower', '1']]));
});

test('encodeLineFramed with the guest fields encoded once gives the bytes of encodeFramed', (t) => {
  for (const boot of ['b1', null])
    for (const text of [Buffer.from('plain line'), Buffer.from([0x41, 0x1b, 0xff]), Buffer.alloc(0)]) {
      const l = line(text, boot);
      t.deepEqual(encodeLineFramed(text, lineTail(l)), encodeFramed(lineFields(l)));
    }
  // The tail holds the guest's fields: another boot gives other bytes.
  t.notDeepEqual(lineTail(line(Buffer.alloc(0), 'b2')), lineTail(line(Buffer.alloc(0), 'b1')));
});
