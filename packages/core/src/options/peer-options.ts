/**
 * Option names of the rate limiters people migrate from, with tollgate's equivalent. An option
 * carried over under its old name is refused (as any unknown option is), and the error says
 * what to write instead, rather than only listing what is accepted. Only for the options of a
 * limiter (`rateLimit()`, `RateLimiter`, a policy): elsewhere these names mean other things.
 */
const PEER_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['windowMs', "express-rate-limit's `windowMs` is tollgate's `window`: milliseconds, or a string such as '15m'"],
  ['limit', "express-rate-limit's and @nestjs/throttler's `limit` is tollgate's `max`"],
  ['keyGenerator', "`keyGenerator` is tollgate's `key`: 'ip' (the default), 'token', or (req) => string"],
  ['identifier', "express-rate-limit's `identifier` is tollgate's `name`"],
  [
    'standardHeaders',
    "express-rate-limit's `standardHeaders` is tollgate's `headers`: 'draft-11' (the default), 'draft-7', 'draft-6', or false",
  ],
  ['legacyHeaders', "express-rate-limit's `legacyHeaders` is tollgate's `headers: 'legacy'` (one format is sent)"],
  ['message', "express-rate-limit's `message` is tollgate's `handler`, which sends the body of a refusal"],
  ['statusCode', "express-rate-limit's `statusCode`: a refusal is 429; a `handler` may set another status"],
  [
    'requestPropertyName',
    "express-rate-limit's `requestPropertyName`: the decision is always `rateLimit` on the request",
  ],
  ['passOnStoreError', "express-rate-limit's `passOnStoreError: true` is tollgate's `failMode: 'open'`"],
  // In rateLimit() these are options (refunds once the status is known); given to the core
  // limiter, which never sees a response, they are refused with this hint.
  [
    'skipSuccessfulRequests',
    "`skipSuccessfulRequests` is an option of an adapter's rateLimit(), which knows the response; with the core limiter, call refund(key, cost)",
  ],
  [
    'skipFailedRequests',
    "`skipFailedRequests` is an option of an adapter's rateLimit(), which knows the response; with the core limiter, call refund(key, cost)",
  ],
  ['onLimitReached', "express-rate-limit's `onLimitReached` is tollgate's `onLimited(req, decision)`"],
  ['timeWindow', "@fastify/rate-limit's `timeWindow` is tollgate's `window`: milliseconds, or a string such as '1m'"],
  ['allowList', "@fastify/rate-limit's `allowList` is tollgate's `skip: (req) => boolean`"],
  ['whitelist', "koa-ratelimit's `whitelist` is tollgate's `skip: (ctx) => boolean`"],
  ['nameSpace', "@fastify/rate-limit's `nameSpace` is tollgate's `prefix`"],
  ['namespace', "koa-ratelimit's `namespace` is tollgate's `prefix` (and `name`)"],
  ['keyPrefix', "rate-limiter-flexible's `keyPrefix` is tollgate's `prefix` (and `name`)"],
  ['redis', "@fastify/rate-limit's `redis` is tollgate's `store: new RedisStore({ client })`"],
  ['storeClient', "rate-limiter-flexible's `storeClient` is tollgate's `store: new RedisStore({ client })`"],
  ['db', "koa-ratelimit's `db` is tollgate's `store: new RedisStore({ client })`"],
  ['driver', "koa-ratelimit's `driver` is tollgate's `store`: a MemoryStore (the default) or a RedisStore"],
  ['cache', "@fastify/rate-limit's `cache` is tollgate's `store: new MemoryStore({ maxKeys })`"],
  ['skipOnError', "@fastify/rate-limit's `skipOnError: true` is tollgate's `failMode: 'open'`"],
  ['errorResponseBuilder', "@fastify/rate-limit's `errorResponseBuilder` is tollgate's `handler`"],
  ['errorMessage', "koa-ratelimit's `errorMessage` is tollgate's `handler`"],
  ['enableDraftSpec', "@fastify/rate-limit's `enableDraftSpec` is tollgate's `headers: 'draft-6'`"],
  ['addHeaders', "@fastify/rate-limit's `addHeaders` is tollgate's `headers`: a format, or false"],
  ['disableHeader', "koa-ratelimit's `disableHeader: true` is tollgate's `headers: false`"],
  ['onExceeded', "@fastify/rate-limit's `onExceeded` is tollgate's `onLimited(req, decision)`"],
  ['onExceeding', "@fastify/rate-limit's `onExceeding`: tollgate's decision is on the request as `rateLimit`"],
  ['id', "koa-ratelimit's `id` is tollgate's `key: (ctx) => string`"],
  ['points', "rate-limiter-flexible's `points` is tollgate's `max` (and `burst` for more at once)"],
  [
    'duration',
    "rate-limiter-flexible's `duration` (seconds) is tollgate's `window` (milliseconds, or a string such as '1s')",
  ],
  ['ttl', "@nestjs/throttler's `ttl` is tollgate's `window`: milliseconds, or a string such as '1m'"],
  ['throttlers', "@nestjs/throttler's `throttlers` is tollgate's `policies: [{ max, window }, …]`"],
  ['limiter', 'a limiter instance: tollgate builds its own from `max`/`window` (or `policies`), `store` and `name`'],
  ['ban', "@fastify/rate-limit's `ban` is tollgate's `block: { after, within, for }`"],
  ['blockDuration', "rate-limiter-flexible's `blockDuration` is tollgate's `block: { after, within, for }`"],
  ['delayAfter', "express-slow-down's `delayAfter`/`delayMs` is tollgate's `slowDown: { maxDelay }`"],
  ['delayMs', "express-slow-down's `delayAfter`/`delayMs` is tollgate's `slowDown: { maxDelay }`"],
  ['dryRun', "a dry run is tollgate's `mode: 'shadow'`"],
]);

/** Where the table applies: the options of a limiter. */
const LIMITER_OPTION_SETS = /^(rateLimit|RateLimiter|a policy)\b/;

/** What to write instead of `name` in the options of `where`, if it is a peer library's option there. */
export function peerOptionHint(name: string, where: string): string | undefined {
  if (!LIMITER_OPTION_SETS.test(where)) return undefined;
  return PEER_OPTIONS.get(name);
}
