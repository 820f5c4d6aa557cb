import type { IncomingHttpHeaders } from 'node:http';
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
}

/**
 * Both platforms resolve `ip` with their own trust-proxy setting (Express: `app.set('trust proxy',
 * …)`; Fastify: the `trustProxy` option of `new FastifyAdapter()`), so neither reads
 * X-Forwarded-For on its own here.
 */
export const reader: RequestReader<PlatformRequest> = {
  ip: (request) => request.ip,
  header: (request, name) => firstHeader(request.headers, name),
};
