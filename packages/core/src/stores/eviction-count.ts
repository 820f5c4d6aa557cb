// Memory stores count the live buckets they drop here, and telemetry reads the total when it is
// scraped: a store never imports telemetry (nor, through it, prom-client) to count.
let evicted = 0;

/** Counts one live bucket a memory store dropped to stay under `maxKeys`. */
export function countEviction(): void {
  evicted += 1;
}

/** Live buckets dropped by every memory store in this process so far; only ever grows. */
export function evictionsSoFar(): number {
  return evicted;
}
