import { InvalidOptionError } from '@tollgate/core';
import { forwardedClient, parseTrustProxy, runtimeClientAddress } from '@tollgate/core/adapter';

/** Finds a request's client address: the app's `clientAddress`, else the runtime's, then `trustProxy` hops. */
export type AddressOf = (request: Request, args: readonly unknown[]) => string | undefined;

/** `clientAddress` and `trustProxy` as `rateLimit()` and `telemetry()` take them, checked once. */
export function addressResolver(clientAddress: unknown, trustProxy: unknown): AddressOf {
  if (clientAddress !== undefined && typeof clientAddress !== 'function') {
    throw new InvalidOptionError('clientAddress', clientAddress, 'accepted: a function (request, ...args) => string');
  }
  const hops = parseTrustProxy(trustProxy);
  const own = clientAddress as ((request: Request, ...args: unknown[]) => string | null | undefined) | undefined;
  return (request, args) => {
    const address = own === undefined ? runtimeClientAddress(request, args[0]) : (own(request, ...args) ?? undefined);
    return hops === 0 ? address : forwardedClient(address, request.headers.get('x-forwarded-for'), hops);
  };
}
