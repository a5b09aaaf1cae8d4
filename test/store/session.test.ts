// withStore writes domain.json back only when its text changes (each write is two fsyncs), and
// always after a recovered lock, whose dead holder's last rename may not be on the disk yet.
import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { noteName } from '../../src/store/domain-state.js';
import { withStore } from '../../src/store/session.js';
import { tempConfig, UUID } from './helpers.js';

const inode = (file: string) => fs.statSync(file).ino;

test('domain.json is rewritten when the state changes, not when a session leaves it as it was', async (t) => {
  const config = tempConfig();
  const file = join(config.logRoot, UUID, 'domain.json');
  await withStore(config, UUID, (s) => {
    s.domain = noteName(s.domain, 'guest1', new Date('2026-01-01T00:00:00Z'));
  });
  const written = fs.readFileSync(file, 'utf8');
  const first = inode(file);
  // Read, saved twice (as release end does), nothing changed: the same file stays.
  await withStore(config, UUID, (s) => s.save());
  t.is(inode(file), first);
  t.is(fs.readFileSync(file, 'utf8'), written);
  // A change is written (atomically: a new file), once even when saved again after it.
  let afterChange = 0;
  await withStore(config, UUID, (s) => {
    s.domain = noteName(s.domain, 'guest2', new Date('2026-01-02T00:00:00Z'));
    s.save();
    afterChange = inode(file);
  });
  t.not(afterChange, first);
  t.is(inode(file), afterChange);
  t.true(fs.readFileSync(file, 'utf8').includes('guest2'));
  // A file in another form than the one written (here: compact JSON) is rewritten in that form.
  fs.writeFileSync(file, JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8'))));
  const compact = inode(file);
  await withStore(config, UUID, () => undefined);
  t.not(inode(file), compact);
  t.true(fs.readFileSync(file, 'utf8').endsWith('}\n'));
});

test('after a recovered lock domain.json is written again, even unchanged', async (t) => {
  const config = tempConfig();
  const dir = join(config.logRoot, UUID);
  const file = join(dir, 'domain.json');
  await withStore(config, UUID, (s) => {
    s.domain = noteName(s.domain, 'guest1', new Date('2026-01-01T00:00:00Z'));
  });
  const before = inode(file);
  // A holder killed -9: its lock folder and owner file stay, naming a dead pid.
  const dead = Number((await execa('sh', ['-c', 'echo $$'])).stdout.trim());
  fs.mkdirSync(join(dir, '.lock'));
  const owner = { host: config.hostName, pid: dead, at: Date.now(), lock: inode(join(dir, '.lock')) };
  fs.writeFileSync(join(dir, '.lock.owner'), JSON.stringify(owner));
  const recovered = await withStore(config, UUID, (s) => s.lock.recovered);
  t.regex(recovered ?? '', /dead process/);
  t.not(inode(file), before);
});
