import test from 'ava';
import {
  HOOK_SERVER_DIR,
  hookServerDir,
  parseEnv,
  parseRequestLine,
  requestFiles,
  requestOwner,
  splitNul,
} from '../../src/hook-server/request.js';

test('a request line is a pid and nothing else', (t) => {
  t.is(parseRequestLine('4242'), 4242);
  for (const line of ['', '0', '042', '12a', '../../etc/passwd', '1 2', '-5', '12345678901', '4242\n'])
    t.is(parseRequestLine(line), undefined, JSON.stringify(line));
});

test('the request files are named after the pid inside the folder', (t) => {
  t.deepEqual(requestFiles('/run/x', 7), {
    argv: '/run/x/7.argv',
    cli: '/run/x/7.cli',
    env: '/run/x/7.env',
    stdin: '/run/x/7.stdin',
    taken: '/run/x/7.taken',
    reply: '/run/x/7.reply',
    out: '/run/x/7.out',
    err: '/run/x/7.err',
  });
  t.is(requestOwner('4242.stdin'), 4242);
  t.is(requestOwner('4242.mine'), 4242);
  t.is(requestOwner('4242.cli'), 4242);
  for (const name of ['pid', 'requests', '.pid.tmp', '42.xml', '042.argv', 'x.argv', '42.argv.tmp'])
    t.is(requestOwner(name), undefined, name);
});

test('argv and env come NUL-terminated; a field cut before its NUL is dropped', (t) => {
  t.deepEqual(splitNul(Buffer.from('dom with space\0migrate\0begin\0-\0')), [
    'dom with space',
    'migrate',
    'begin',
    '-',
  ]);
  t.deepEqual(splitNul(Buffer.from('a\0\0b')), ['a', '']);
  t.deepEqual(splitNul(Buffer.alloc(0)), []);
  t.deepEqual(parseEnv(Buffer.from('PATH=/bin\0X=a=b\nc\0NOEQUALS\0=bad\0EMPTY=\0')), {
    PATH: '/bin',
    X: 'a=b\nc',
    EMPTY: '',
  });
});

test('VIRT_CONSOLELOG_HOOK_SERVER: default folder, another one, or 0 for none', (t) => {
  t.is(hookServerDir({}), HOOK_SERVER_DIR);
  t.is(hookServerDir({ VIRT_CONSOLELOG_HOOK_SERVER: '' }), HOOK_SERVER_DIR);
  t.is(hookServerDir({ VIRT_CONSOLELOG_HOOK_SERVER: '/tmp/a/../b' }), '/tmp/b');
  t.is(hookServerDir({ VIRT_CONSOLELOG_HOOK_SERVER: '0' }), undefined);
});
