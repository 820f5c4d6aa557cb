/**
 * Set on a context that `rateLimit()` refused, so that `telemetry()` can still name its route
 * (an app-wide limiter refuses before @koa/router runs). A registered symbol, so the ESM and the
 * CommonJS build of the package agree on it.
 */
export const REFUSED: unique symbol = Symbol.for('tollgate.koa.refused') as never;

export type MaybeRefused = { [REFUSED]?: true };
