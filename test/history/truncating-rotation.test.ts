// A truncating log (Nova's `<log append='off'>`, kept in place) that virtlogd rotates within a boot:
// the boot begins at byte 0 of the file the start truncated, wherever rotation has moved it since,
// never at the start of a later file (virtlogd splits lines there).
import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { hook, hookEnv, domainXml, runCli } from '../lifecycle/helpers.js';

/** virtlogd's writer: appends, and at max_size rolls path -> path.0 -> path.1 ..., cutting where it is. */
class Virtlogd {
  constructor(
    readonly path: string,
    readonly maxSize: number,
    readonly maxBackups: number,
  ) {}

  /** A start with append off: the same inode, emptied (O_TRUNC), or a new file. */
  openTruncating(): void {
    fs.writeFileSync(this.path, '');
  }

  write(text: string): void {
    let data = Buffer.from(text);
    while (data.length) {
      const size = fs.existsSync(this.path) ? fs.statSync(this.path).size : 0;
      const room = this.maxSize - size;
      if (room <= 0) {
        this.rollover();
        continue;
      }
      fs.appendFileSync(this.path, data.subarray(0, room));
      data = data.subarray(room);
    }
  }

  private rollover(): void {
    const backup = (i: number) => `${this.path}.${i}`;
    fs.rmSync(backup(this.maxBackups - 1), { force: true });
    for (let i = this.maxBackups - 2; i >= 0; i--)
      if (fs.existsSync(backup(i))) fs.renameSync(backup(i), backup(i + 1));
    fs.renameSync(this.path, backup(0));
    fs.writeFileSync(this.path, '');
  }
}

/** The guest's lines of one boot, as the lab's sequence guest prints them. */
const bootLines = (boot: number, n: number) =>
  Array.from({ length: n }, (_, i) => `seq=${i} boot=0000000${boot}\r\n`).join('');

async function setUp() {
  const { config, env } = hookEnv();
  fs.appendFileSync(env.VIRT_CONSOLELOG_CONFIG, 'chain_logs = 0\n');
  const path = join(config.allowedRoots[0] as string, 'instances', 'inst-1', 'console.log');
  fs.mkdirSync(join(path, '..'), { recursive: true });
  const xml = domainXml(`<serial type='pty'><log file='${path}' append='off'/><target port='0'/></serial>`);
  // 1000-byte files, 3 backups: each boot's ~2.7 KiB roll twice, mid-line.
  return { env, path, xml, virtlogd: new Virtlogd(path, 1000, 3) };
}

/** `show`: one separator per boot, then every line of each boot once, whole, in order. */
async function assertShow(t: import('ava').ExecutionContext, env: NodeJS.ProcessEnv, boots: number) {
  const r = await runCli(env, ['show', 'guest1']);
  t.is(r.code, 0, r.err);
  const expected: string[] = [];
  for (let b = 1; b <= boots; b++) expected.push('-- Boot', ...bootLines(b, 120).split('\n').slice(0, -1));
  const got = r.out
    .split('\n')
    .slice(0, -1)
    .map((l) => (l.startsWith('-- Boot ') ? '-- Boot' : l));
  t.deepEqual(got, expected);
  const raw = await runCli(env, ['show', '-c', '1000000', 'guest1']);
  t.is(raw.out, Array.from({ length: boots }, (_, i) => bootLines(i + 1, 120)).join(''));
  for (let b = 1; b <= boots; b++) {
    const one = await runCli(env, ['show', '-b', String(b), '-o', 'cat', 'guest1']);
    t.is(one.out, bootLines(b, 120), `-b ${b}`);
  }
}

test('a truncating log rotated twice a boot: every line once, boots begin where they began', async (t) => {
  const { env, xml, virtlogd } = await setUp();
  for (let boot = 1; boot <= 3; boot++) {
    const p = await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
    t.is(p.code, 0, p.stderr);
    virtlogd.openTruncating();
    virtlogd.write(bootLines(boot, 120));
    await assertShow(t, env, boot); // the newest boot read from live files
  }
  const r = await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  t.is(r.code, 0, r.stderr);
  await assertShow(t, env, 3); // all sealed
});

test('a boot that printed more than virtlogd keeps begins where its kept output resumes', async (t) => {
  const { env, xml, virtlogd } = await setUp();
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  virtlogd.openTruncating();
  virtlogd.write(bootLines(1, 120));
  await hook(env, ['guest1', 'prepare', 'begin', '-'], xml);
  virtlogd.openTruncating();
  const boot2 = bootLines(2, 400); // ~9 KiB: the file the start truncated is rolled out and deleted
  virtlogd.write(boot2);
  const check = async () => {
    const raw = (await runCli(env, ['show', '-c', '100000000', 'guest1'])).out;
    t.true(raw.startsWith(bootLines(1, 120)));
    const kept = raw.slice(bootLines(1, 120).length);
    t.true(kept.length >= 3000 && boot2.endsWith(kept), 'the newest 3-4 files of boot 2');
    const shown = await runCli(env, ['show', 'guest1']);
    const seps = shown.out.split('\n').filter((l) => l.startsWith('-- Boot '));
    t.is(seps.length, 2);
    t.is(
      shown.out
        .split('\n')
        .filter((l) => !l.startsWith('-- Boot '))
        .join('\n'),
      raw,
    );
    t.is((await runCli(env, ['show', '-b', '2', '-o', 'cat', 'guest1'])).out, kept);
    t.is((await runCli(env, ['show', '-b', '1', '-o', 'cat', 'guest1'])).out, bootLines(1, 120));
  };
  await check(); // boot 2 live
  await hook(env, ['guest1', 'release', 'end', 'destroyed'], xml);
  await check(); // sealed
});
