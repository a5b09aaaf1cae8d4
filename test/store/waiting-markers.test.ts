import test from 'ava';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { emptyDomainState, KNOWN_BOOTS, withMarkers } from '../../src/store/domain-state.js';
import {
  forgetWaitingMarkers,
  readWaitingMarkers,
  rememberWaitingMarker,
} from '../../src/store/waiting-markers.js';
import { tempConfig, UUID } from './helpers.js';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const C = 'cccccccccccccccc';

test('waiting marker ids: remembered in order, forgotten once taken, later ones kept', (t) => {
  const config = tempConfig();
  t.deepEqual(readWaitingMarkers(config, UUID), []);
  rememberWaitingMarker(config, UUID, A);
  rememberWaitingMarker(config, UUID, B);
  const taken = readWaitingMarkers(config, UUID);
  t.deepEqual(taken, [A, B]);
  // A start noted another marker between the read and the forget: it stays.
  rememberWaitingMarker(config, UUID, C);
  forgetWaitingMarkers(config, UUID, taken);
  t.deepEqual(readWaitingMarkers(config, UUID), [C]);
  forgetWaitingMarkers(config, UUID, [C]);
  t.false(fs.existsSync(join(config.stateDir, 'domains', UUID, 'boot-markers.waiting')));
  t.is(fs.statSync(join(config.stateDir, 'domains', UUID)).mode & 0o777, 0o700);
});

test('waiting marker ids: no symlink followed, garbage lines and bad ids refused', (t) => {
  const config = tempConfig();
  const dir = join(config.stateDir, 'domains', UUID);
  fs.mkdirSync(dir, { recursive: true });
  const elsewhere = join(config.stateDir, 'elsewhere');
  fs.writeFileSync(elsewhere, `${A}\n`);
  fs.symlinkSync(elsewhere, join(dir, 'boot-markers.waiting'));
  t.throws(() => rememberWaitingMarker(config, UUID, B), { code: 'ELOOP' });
  t.deepEqual(readWaitingMarkers(config, UUID), [], 'a symlink is not read through');
  t.is(fs.readFileSync(elsewhere, 'utf8'), `${A}\n`);
  fs.rmSync(join(dir, 'boot-markers.waiting'));
  t.throws(() => rememberWaitingMarker(config, UUID, '../x'), { message: /not a boot marker id/ });
  t.throws(() => rememberWaitingMarker(config, '../../etc/cron.d/x', A), { message: /not a domain UUID/ });
  fs.writeFileSync(join(dir, 'boot-markers.waiting'), `garbage\n${B}\n--- x ---\n`);
  t.deepEqual(readWaitingMarkers(config, UUID), [B]);
});

test('withMarkers adds each id once, keeps the newest KNOWN_BOOTS, leaves the state alone when nothing is new', (t) => {
  const base = withMarkers(emptyDomainState(UUID), 'hosta', [A, A, B]);
  t.deepEqual(base.hosts.hosta?.markers, [A, B]);
  t.is(withMarkers(base, 'hosta', [B]), base);
  t.deepEqual(withMarkers(base, 'hostb', [C]).hosts.hostb?.markers, [C]);
  const many = Array.from({ length: KNOWN_BOOTS }, (_, i) => i.toString(16).padStart(16, '0'));
  t.deepEqual(withMarkers(base, 'hosta', many).hosts.hosta?.markers?.slice(0, 1), [many[0]]);
  t.is(withMarkers(base, 'hosta', many).hosts.hosta?.markers?.length, KNOWN_BOOTS);
});
