// The decisions of one fetch pass about one source (pure), taken beside the loop in fetch.ts from
// what the source's listing showed: is the source done, still owed a seal, or asked again.

/** What a source's listing showed, reduced to what the decision needs. */
export interface ListingFacts {
  /** The source owes a final seal (the hint's host, or unsealed live bytes there not readable here). */
  owes: boolean;
  /** A segment of the source appeared since the first job's baseline. */
  sealedSinceBaseline: boolean;
  /** The source's live files are sealed to their end (with bytes seen sealed, when the job waits). */
  sealedToEnd: boolean;
  /** The same without asking for bytes seen sealed (a source that printed nothing since). */
  sealedToEndLoose: boolean;
}

/** The next step for a source after one listing: its outcome, or ask it again after a pause. */
export type SourceStep = 'complete' | 'waiting' | 'poll';

export function afterListing(f: ListingFacts, waitForSeal: boolean, windowOver: boolean): SourceStep {
  if (!f.owes || f.sealedSinceBaseline || f.sealedToEnd) return 'complete';
  if (!waitForSeal || windowOver)
    // The window is over: a source that printed nothing since leaves no new segment.
    return waitForSeal && f.sealedToEndLoose ? 'complete' : 'waiting';
  return 'poll';
}

/** After a listing failed `failures` times in a row: give the source up, or ask again. */
export function afterListFailure(
  failures: number,
  maxFailures: number,
  waitForSeal: boolean,
  windowOver: boolean,
): 'unreachable' | 'retry' {
  return failures >= maxFailures || !waitForSeal || windowOver ? 'unreachable' : 'retry';
}
