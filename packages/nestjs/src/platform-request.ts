import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { RateLimitInfo } from '@tollgate/core';
import { firstHeader, type RequestReader } from '@tollgate/core/adapter';

/**
 * The request a limit's functions (`key`, `cost`, `skip`, `max`, ...) receive: the platform's own,
 * an Express `Request` on @nestjs/platform-express and a `FastifyRequest` on
 * @nestjs/platform-fastify. Both have these members; cast to the platform's type for the rest.
 */
export interface PlatformRequest {
  readonly headers: IncomingHttpHeaders;
  /** The client address with the platform's trust-proxy setting applied. */
  readonly ip?: string | undefined;
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  /** The decision of the last limit this request passed (set by the guard, read in the handler). */
  rateLimit?: RateLimitInfo | null;
  /** Every limit's decision on this request, by name: the app-wide one, the controller's, the handler's. */
  rateLimits?: Record<string, RateLimitInfo> | null;
}

/**
 * Each request's Node response, set by the guard before it decides: the request alone does not
 * lead to it on Fastify. A WeakMap, so nothing outlives the request.
 */
export const responses = new WeakMap<PlatformRequest, ServerResponse>();

/** The Node response under the platform's: Express's is one; Fastify's reply holds it as `raw`. */
export function nodeResponse(response: object): ServerResponse {
  return ('raw' in response ? (response as { raw: ServerResponse }).raw : response) as ServerResponse;
}

/**
 * Both platforms resolve `ip` with their own trust-proxy setting (Express: `app.set('trust proxy',
 * …)`; Fastify: the `trustProxy` option of `new FastifyAdapter()`), so neither reads
 * X-Forwarded-For on its own here. The decisions go on the request as `rateLimit` and `rateLimits`,
 * and the response's status reaches core once it is sent.
 */
export const reader: RequestReader<PlatformRequest> = {
  ip: (request) => request.ip,
  header: (request, name) => firstHeader(request.headers, name),
  // On the platform's own request object (Express's or Fastify's), which `@Req()` hands the handler.
  holder: (request) => request,
  // The status once the response is sent (undefined if the client left first), for
  // skipSuccessfulRequests / skipFailedRequests and the end of a slowDown wait.
  whenDone: (request, done) => {
    const res = responses.get(request);
    res?.once('finish', () => done(res.statusCode)).once('close', () => done(undefined));
  },
};
