/** Calls one reading answers at most, however long the event loop is held. */
export const MAX_REUSE = 64;

/**
 * `source`, read at most once per `resolutionMs`: a reading answers the calls that follow it
 * until a timer of `resolutionMs` has run, and never more than `MAX_REUSE` of them, since a timer
 * cannot run while the event loop is held. A read of the clock costs about as much as the rest of
 * a memory-store decision on a hot key; this halves it there.
 *
 * A stale reading moves a bucket's refill by at most `resolutionMs`: it is counted late, or, for a
 * debit of a full bucket (dated up to `resolutionMs` early), early. So a balance is at most
 * `resolutionMs × rate` tokens from the exact clock's, either way, and the error does not add up:
 * the next fresh reading counts all the time that passed. It never goes backwards if `source`
 * does not.
 *
 * The timer is unref'd and made only when a reading needs it, so an idle store sets none.
 */
export function cachedClock(source: () => number, resolutionMs: number): () => number {
  let reading = 0;
  let left = 0;
  let timer: NodeJS.Timeout | undefined;
  const expire = () => {
    timer = undefined;
    left = 0;
  };
  return () => {
    if (left > 0) {
      left--;
      return reading;
    }
    reading = source();
    left = MAX_REUSE - 1;
    if (timer === undefined) {
      timer = setTimeout(expire, resolutionMs);
      timer.unref();
    }
    return reading;
  };
}
