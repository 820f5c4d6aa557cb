/**
 * Histogram bounds in seconds: the OpenTelemetry semantic-convention advice for
 * `http.server.request.duration`, and a fair default for any request-sized duration.
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** Bounds in seconds for a rate-limit store call: most answer in well under a millisecond. */
export const STORE_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
]);
