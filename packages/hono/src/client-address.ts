import { InvalidOptionError } from '@tollgate/core';
import { forwardedClient, parseTrustProxy, runtimeClientAddress } from '@tollgate/core/adapter';
import type { Context } from 'hono';
import type { GetConnInfo } from 'hono/conninfo';

/** Finds a request's client address: Hono's connection info, then `trustProxy` hops. */
export type AddressOf = (c: Context) => string | undefined;

/**
 * `getConnInfo` and `trustProxy` as `rateLimit()` and `telemetry()` take them, checked once.
 * Without `getConnInfo`, the address is read from `c.env` where `@hono/node-server`, Bun and Deno
 * put it (what their `getConnInfo` reads), so `app.use(rateLimit(...))` works on them as it is.
 */
export function addressResolver(getConnInfo: unknown, trustProxy: unknown): AddressOf {
  if (getConnInfo !== undefined && typeof getConnInfo !== 'function') {
    throw new InvalidOptionError(
      'getConnInfo',
      getConnInfo,
      "accepted: your runtime's getConnInfo (from '@hono/node-server/conninfo', 'hono/bun', 'hono/deno', ...)",
    );
  }
  const hops = parseTrustProxy(trustProxy);
  const info = getConnInfo as GetConnInfo | undefined;
  return (c) => {
    const address = info === undefined ? runtimeClientAddress(c.req.raw, c.env) : info(c).remote.address;
    return hops === 0 ? address : forwardedClient(address, c.req.raw.headers.get('x-forwarded-for'), hops);
  };
}
