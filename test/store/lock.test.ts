import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { withDomainLock, LockTimeoutError, OWNERLESS_MS } from '../../src/store/lock.js';
import { ensureDomainDir } from '../../src/store/store.js';
import { tempConfig, UUID } from './helpers.js';

test('a held lock makes the next caller wait, bounded', async (t) => {
  const config = tempConfig({ lockWaitMs: 300 });
  ensureDomainDir(config, UUID).close();
  await withDomainLock(config, UUID, async () => {
    const started = Date.now();
    await t.throwsAsync(
      withDomainLock(config, UUID, () => 1),
      { instanceOf: LockTimeoutError },
    );
    t.true(Date.now() - started >= 250);
  });
  t.is(await withDomainLock(config, UUID, () => 2), 2);
});

test('the lock of a dead process is recovered at once', async (t) => {
  const config = tempConfig({ lockWaitMs: 2000, lockStaleMs: 60000 });
  ensureDomainDir(config, UUID).close();
  const dir = join(config.logRoot, UUID);
  // A process that took the lock and was killed -9 (its mkdir'd lock and owner file stay).
  const child = await execa('sh', ['-c', 'echo $$; exit 0']);
  const deadPid = Number(child.stdout.trim());
  fs.mkdirSync(join(dir, '.lock'));
  fs.writeFileSync(
    join(dir, '.lock.owner'),
    JSON.stringify({
      host: config.hostName,
      pid: deadPid,
      at: Date.now(),
      lock: fs.statSync(join(dir, '.lock')).ino,
    }),
  );
  const started = Date.now();
  const info = await withDomainLock(config, UUID, (i) => i);
  t.regex(info.recovered ?? '', /dead process/);
  t.true(Date.now() - started < 1000);
});

test('a lock whose creator died before recording itself is recovered after a short grace, not lock_stale_ms', async (t) => {
  // kill -9 between proper-lockfile's mkdir and the owner file: the owner file is missing, or still
  // names the previous holder's lock (here: a live process, as a fetch job that took the lock before).
  const config = tempConfig({ lockWaitMs: 3000, lockStaleMs: 60000 });
  ensureDomainDir(config, UUID).close();
  const dir = join(config.logRoot, UUID);
  const lock = join(dir, '.lock');
  const old = (Date.now() - OWNERLESS_MS - 1000) / 1000;
  for (const owner of [undefined, { host: config.hostName, pid: process.pid, at: Date.now(), lock: 1 }]) {
    fs.rmSync(join(dir, '.lock.owner'), { force: true });
    if (owner) fs.writeFileSync(join(dir, '.lock.owner'), JSON.stringify(owner));
    fs.mkdirSync(lock);
    fs.utimesSync(lock, old, old);
    const info = await withDomainLock(config, UUID, (i) => i);
    t.regex(info.recovered ?? '', /never recorded itself/);
  }
  // A young lock without a record is a live process between its mkdir and its owner file: left alone.
  fs.rmSync(join(dir, '.lock.owner'), { force: true });
  fs.mkdirSync(lock);
  await t.throwsAsync(
    withDomainLock({ ...config, lockWaitMs: 300 }, UUID, () => 1),
    { instanceOf: LockTimeoutError },
  );
  fs.rmdirSync(lock);
  // The owner file a holder writes names its lock folder: a later lock is not taken for it.
  await withDomainLock(config, UUID, () => {
    const o = JSON.parse(fs.readFileSync(join(dir, '.lock.owner'), 'utf8'));
    t.is(o.lock, fs.statSync(lock).ino);
    t.is(o.pid, process.pid);
  });
});

test('the owner file is 0600 and never written through a symlink', async (t) => {
  const config = tempConfig({ lockWaitMs: 300 });
  ensureDomainDir(config, UUID).close();
  const owner = join(config.logRoot, UUID, '.lock.owner');
  await withDomainLock(config, UUID, () => undefined);
  t.is(fs.statSync(owner).mode & 0o777, 0o600);
  fs.unlinkSync(owner);
  const victim = join(config.base, 'victim');
  fs.writeFileSync(victim, 'untouched\n');
  fs.symlinkSync(victim, owner);
  t.is(await withDomainLock(config, UUID, () => 3), 3);
  t.is(fs.readFileSync(victim, 'utf8'), 'untouched\n');
});
