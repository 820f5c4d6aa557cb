/**
 * A clock of milliseconds since the epoch as the process's monotonic clock counts them: the
 * wall-clock time the process started plus `performance.now()`. Setting the system clock (by hand,
 * by NTP, a VM restored from a snapshot) does not move it, in either direction, so a step can
 * neither freeze refills nor mint tokens; only the process's own time passes.
 *
 * `performance` is read when the clock is made, not on each call: the global is an accessor that
 * costs about 5 ns a read, close to a tenth of a store decision. Fake timers installed before then
 * (vitest's and Jest's fake `performance` by default) drive the clock, as they drove `Date.now`.
 */
export function monotonicClock(): () => number {
  const perf = performance;
  const origin = perf.timeOrigin;
  return () => origin + perf.now();
}
