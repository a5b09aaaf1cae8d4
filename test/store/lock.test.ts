import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { withDomainLock, LockTimeoutError } from '../../src/store/lock.js';
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
    JSON.stringify({ host: config.hostName, pid: deadPid, at: Date.now() }),
  );
  const started = Date.now();
  const info = await withDomainLock(config, UUID, (i) => i);
  t.regex(info.recovered ?? '', /dead process/);
  t.true(Date.now() - started < 1000);
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
