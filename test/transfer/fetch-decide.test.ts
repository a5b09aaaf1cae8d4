import test from 'ava';
import { afterListFailure, afterListing, type ListingFacts } from '../../src/transfer/fetch-decide.js';

const none: ListingFacts = {
  owes: false,
  sealedSinceBaseline: false,
  sealedToEnd: false,
  sealedToEndLoose: false,
};
const owed: ListingFacts = { ...none, owes: true };

test('a source that owes no seal is done at its first listing, waiting or not', (t) => {
  t.is(afterListing(none, true, false), 'complete');
  t.is(afterListing(none, false, false), 'complete');
});

test('an owed seal: done once a segment appeared since the baseline or the live files are sealed', (t) => {
  t.is(afterListing({ ...owed, sealedSinceBaseline: true }, true, false), 'complete');
  t.is(afterListing({ ...owed, sealedToEnd: true }, true, false), 'complete');
  // Not yet: the job asks again while its window lasts; a one-pass sync records the debt.
  t.is(afterListing(owed, true, false), 'poll');
  t.is(afterListing(owed, false, false), 'waiting');
  t.is(afterListing({ ...owed, sealedToEndLoose: true }, false, false), 'waiting');
});

test('when the window is over, a source sealed to its end without new bytes is done', (t) => {
  t.is(afterListing({ ...owed, sealedToEndLoose: true }, true, true), 'complete');
  t.is(afterListing(owed, true, true), 'waiting');
});

test('a failing listing is retried only by a waiting job, within its window and failure budget', (t) => {
  t.is(afterListFailure(1, 3, true, false), 'retry');
  t.is(afterListFailure(3, 3, true, false), 'unreachable');
  t.is(afterListFailure(1, 3, false, false), 'unreachable');
  t.is(afterListFailure(1, 3, true, true), 'unreachable');
});
