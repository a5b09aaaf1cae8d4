// Unit tests of patience.ts (pure: the measurement is passed in).
import test from 'ava';
import { patienceFactor } from './patience.js';

test('ceilings stretch with the measured start-up of node, at least 2x, at most 8x', (t) => {
  t.is(
    patienceFactor(undefined, () => 22),
    2,
  );
  t.is(
    patienceFactor(undefined, () => 10),
    2,
  );
  t.is(Math.round(patienceFactor(undefined, () => 66) * 10) / 10, 6);
  t.is(
    patienceFactor(undefined, () => 600),
    8,
  );
});

test('VCL_TEST_PATIENCE overrides the measurement; a value that is not a number >= 1 is ignored', (t) => {
  const never = () => {
    throw new Error('measured although set');
  };
  t.is(patienceFactor('3', never), 3);
  t.is(patienceFactor('1', never), 1);
  t.is(
    patienceFactor('0.5', () => 22),
    2,
  );
  t.is(
    patienceFactor('soon', () => 22),
    2,
  );
  t.is(
    patienceFactor('', () => 44),
    4,
  );
});
