import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { isOptedOutSync } from '../../src/definitions/optout.js';
import { pidFilePath } from '../../src/definitions/job-lock.js';
import { domainFilePath } from '../../src/state/layout.js';
import { migrateStateDir, resetMigrationCheck } from '../../src/state/domain-files.js';
import { readWaitingMarkers, rememberWaitingMarker } from '../../src/store/waiting-markers.js';
import { listFetchRecords, readFetchRecord } from '../../src/transfer/state.js';
import { takeIncomingMigration } from '../../src/transfer/start.js';
import { tempConfig, UUID } from '../store/helpers.js';

const OTHER = '22222222-3333-4444-5555-666666666666';
const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';

/** The state_dir a host of the version before per-domain folders left behind. */
function oldLayout(stateDir: string, now: Date): void {
  const put = (rel: string, text: string) => {
    fs.mkdirSync(join(stateDir, rel, '..'), { recursive: true });
    fs.writeFileSync(join(stateDir, rel), text);
  };
  put(`markers/${UUID}.unrecorded`, `${A}\n`);
  put(`definitions/auto-enable/${UUID}.pid`, '999999999\n');
  put(`definitions/disabled/${OTHER}`, `${now.toISOString()}\n`);
  put(
    `transfer/${UUID}.json`,
    JSON.stringify({ uuid: UUID, status: 'failed', candidates: ['b'], attempts: 1, segmentsFetched: 0 }),
  );
  put(`transfer/${UUID}.incoming`, `${now.toISOString()}\n`);
  put(`transfer/${UUID}.partial/0001.part`, 'x');
  put('journal.log', '{}\n');
}

test.serial('an older state_dir is moved into per-domain folders by the first path asked for', (t) => {
  resetMigrationCheck();
  const config = tempConfig();
  const now = new Date();
  oldLayout(config.stateDir, now);
  // What a new version's hook and CLI ask first finds what the old version wrote.
  t.deepEqual(readWaitingMarkers(config, UUID), [A]);
  t.true(isOptedOutSync(config, OTHER));
  t.false(isOptedOutSync(config, UUID));
  t.is(readFetchRecord(config.stateDir, UUID)?.status, 'failed');
  t.deepEqual(
    listFetchRecords(config.stateDir).map((r) => r.uuid),
    [UUID],
  );
  t.true(takeIncomingMigration(config, UUID, now));
  t.is(fs.readFileSync(pidFilePath(config, UUID), 'utf8'), '999999999\n');
  t.true(fs.existsSync(join(domainFilePath(config.stateDir, UUID, 'partialDownloads'), '0001.part')));
  // The old folders are gone; host-wide files stay where they were.
  t.deepEqual(fs.readdirSync(config.stateDir).sort(), ['domains', 'journal.log']);
  t.deepEqual(fs.readdirSync(join(config.stateDir, 'domains')).sort(), [UUID, OTHER].sort());
});

test.serial('the move is idempotent, merges waiting markers and never follows a symlink', (t) => {
  resetMigrationCheck();
  const config = tempConfig();
  // A new version already wrote one marker id before an old file turned up (two versions racing).
  rememberWaitingMarker(config, UUID, B);
  fs.mkdirSync(join(config.stateDir, 'markers'), { recursive: true });
  fs.writeFileSync(join(config.stateDir, 'markers', `${UUID}.unrecorded`), `${A}\n`);
  const elsewhere = join(config.base, 'elsewhere');
  fs.writeFileSync(elsewhere, 'not ours\n');
  fs.symlinkSync(elsewhere, join(config.stateDir, 'markers', `${OTHER}.unrecorded`));
  resetMigrationCheck();
  t.deepEqual(migrateStateDir(config.stateDir), [`markers/${UUID}.unrecorded`]);
  t.deepEqual(readWaitingMarkers(config, UUID), [B, A]);
  t.deepEqual(readWaitingMarkers(config, OTHER), []);
  t.true(fs.lstatSync(join(config.stateDir, 'markers', `${OTHER}.unrecorded`)).isSymbolicLink());
  t.is(fs.readFileSync(elsewhere, 'utf8'), 'not ours\n');
  // Once per process; and again in a new process, nothing left to move.
  t.deepEqual(migrateStateDir(config.stateDir), []);
  resetMigrationCheck();
  t.deepEqual(migrateStateDir(config.stateDir), []);
});
