/**
 * Set on a request that `rateLimit()` refused, so that `telemetry()` can still name its route
 * (an app-wide limiter refuses before Express routes). A registered symbol, so the ESM and the
 * CommonJS build of the package agree on it.
 */
export const REFUSED: unique symbol = Symbol.for('tollgate.express.refused') as never;

export type MaybeRefused = { [REFUSED]?: true };
