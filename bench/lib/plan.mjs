// What runs, and what it is held to. Targets are the issue's; the bench reports them, never
// fails on them.

import { requireEveryFramework } from './frameworks.mjs';

/** Per framework (every one in frameworks.json): limiter contenders (memory, Redis), telemetry contenders, limited-run set. */
export const FRAMEWORKS = {
  express: {
    memoryPeers: ['express-rate-limit-memory', 'rate-limiter-flexible-memory'],
    redisPeers: ['express-rate-limit-redis', 'rate-limiter-flexible-redis'],
    metricsPeers: ['express-prom-bundle'],
    limitedPeers: ['express-rate-limit-memory', 'express-rate-limit-redis'],
    otelInQuick: true,
  },
  koa: {
    memoryPeers: ['koa-ratelimit-memory', 'rate-limiter-flexible-memory'],
    redisPeers: ['koa-ratelimit-redis', 'rate-limiter-flexible-redis'],
    metricsPeers: [],
    limitedPeers: ['koa-ratelimit-memory', 'koa-ratelimit-redis'],
    otelInQuick: false,
  },
  fastify: {
    memoryPeers: ['fastify-rate-limit-memory', 'rate-limiter-flexible-memory'],
    redisPeers: ['fastify-rate-limit-redis', 'rate-limiter-flexible-redis'],
    metricsPeers: ['fastify-metrics'],
    limitedPeers: ['fastify-rate-limit-memory', 'fastify-rate-limit-redis'],
    otelInQuick: false,
  },
  hono: {
    memoryPeers: ['hono-rate-limiter-memory', 'rate-limiter-flexible-memory'],
    redisPeers: ['hono-rate-limiter-redis', 'rate-limiter-flexible-redis'],
    metricsPeers: [],
    limitedPeers: ['hono-rate-limiter-memory', 'hono-rate-limiter-redis'],
    otelInQuick: false,
  },
  // No limiter of its own: a Next.js, Bun or Deno app would wrap rate-limiter-flexible itself.
  fetch: {
    memoryPeers: ['rate-limiter-flexible-memory'],
    redisPeers: ['rate-limiter-flexible-redis'],
    metricsPeers: [],
    limitedPeers: ['rate-limiter-flexible-memory', 'rate-limiter-flexible-redis'],
    otelInQuick: false,
  },
  // @nestjs/throttler keeps its counters in memory (Redis storage is a third-party package).
  nestjs: {
    memoryPeers: ['nestjs-throttler-memory'],
    redisPeers: [],
    metricsPeers: [],
    limitedPeers: ['nestjs-throttler-memory'],
    otelInQuick: false,
  },
};

requireEveryFramework('bench/lib/plan.mjs FRAMEWORKS', FRAMEWORKS);

/**
 * Like for like (issue 18 item 2): tollgate configured as each peer is, headers included, by
 * framework. `headers: false` against rate-limiter-flexible (which sends none), `'draft-7'` against
 * express-rate-limit's draft-7, `'legacy'` (X-RateLimit-*) against @fastify/rate-limit and
 * koa-ratelimit. Held to the same factor as the strict rows.
 */
export const LIKE_FOR_LIKE = {
  express: [
    { subject: 'tollgate-memory-noheaders', peer: 'rate-limiter-flexible-memory', as: 'no headers' },
    { subject: 'tollgate-redis-noheaders', peer: 'rate-limiter-flexible-redis', as: 'no headers' },
    { subject: 'tollgate-memory-draft7', peer: 'express-rate-limit-memory-draft7', as: 'draft-7' },
    { subject: 'tollgate-redis-draft7', peer: 'express-rate-limit-redis-draft7', as: 'draft-7' },
  ],
  koa: [
    { subject: 'tollgate-memory-noheaders', peer: 'rate-limiter-flexible-memory', as: 'no headers' },
    { subject: 'tollgate-redis-noheaders', peer: 'rate-limiter-flexible-redis', as: 'no headers' },
    { subject: 'tollgate-memory-legacy', peer: 'koa-ratelimit-memory', as: 'X-RateLimit-*' },
    { subject: 'tollgate-redis-legacy', peer: 'koa-ratelimit-redis', as: 'X-RateLimit-*' },
  ],
  fastify: [
    { subject: 'tollgate-memory-noheaders', peer: 'rate-limiter-flexible-memory', as: 'no headers' },
    { subject: 'tollgate-redis-noheaders', peer: 'rate-limiter-flexible-redis', as: 'no headers' },
    { subject: 'tollgate-memory-legacy', peer: 'fastify-rate-limit-memory', as: 'X-RateLimit-*' },
    { subject: 'tollgate-redis-legacy', peer: 'fastify-rate-limit-redis', as: 'X-RateLimit-*' },
  ],
};

/** p99 latency at saturation with Redis: tollgate's against the framework's own Redis peer. */
export const P99_TARGETS = [
  { framework: 'express', subject: 'tollgate-redis', peer: 'express-rate-limit-redis', factor: 1 },
  { framework: 'koa', subject: 'tollgate-redis', peer: 'koa-ratelimit-redis', factor: 1 },
  { framework: 'fastify', subject: 'tollgate-redis', peer: 'fastify-rate-limit-redis', factor: 1 },
];

export const usesRedis = (contender) => /-redis(?:-|$)/.test(contender);

/** The contenders of one framework, as { contender, limited } scenarios, each run after a bare one. */
export function scenarios(framework, { quick }) {
  const f = FRAMEWORKS[framework];
  const allowed = [
    'tollgate-memory',
    ...f.memoryPeers,
    'tollgate-redis',
    ...f.redisPeers,
    'tollgate-telemetry',
    'tollgate-metrics',
    ...f.metricsPeers,
    ...(quick && !f.otelInQuick ? [] : ['otel']),
    ...(framework === 'fastify' ? ['tollgate-redis-uncoalesced'] : []),
    // Like for like: each tollgate variant, and any peer configuration not run above.
    ...new Set(
      (LIKE_FOR_LIKE[framework] ?? []).flatMap(({ subject, peer }) => [
        subject,
        ...(f.memoryPeers.includes(peer) || f.redisPeers.includes(peer) ? [] : [peer]),
      ]),
    ),
  ];
  // Quick: the framework's own memory limiter is the only peer in the limited run.
  const limited = ['tollgate-memory', 'tollgate-redis', ...(quick ? f.limitedPeers.slice(0, 1) : f.limitedPeers)];
  return [
    ...allowed.map((contender) => ({ framework, contender, limited: false })),
    ...limited.map((contender) => ({ framework, contender, limited: true })),
  ];
}

/** The peers a tollgate contender is compared with ("vs best peer"), by framework. */
export function peersOf(framework, contender) {
  const f = FRAMEWORKS[framework];
  if (contender === 'tollgate-memory') return f.memoryPeers;
  if (contender === 'tollgate-redis') return f.redisPeers;
  if (contender === 'tollgate-telemetry') return ['otel'];
  if (contender === 'tollgate-metrics') return f.metricsPeers;
  return [];
}

/** HTTP targets: tollgate's added CPU per request at most `factor` times the best peer's. */
export const HTTP_TARGETS = [
  { framework: 'express', subject: 'tollgate-memory', factor: 0.5, peers: FRAMEWORKS.express.memoryPeers },
  { framework: 'koa', subject: 'tollgate-memory', factor: 0.5, peers: FRAMEWORKS.koa.memoryPeers },
  { framework: 'fastify', subject: 'tollgate-memory', factor: 0.5, peers: FRAMEWORKS.fastify.memoryPeers },
  { framework: 'nestjs', subject: 'tollgate-memory', factor: 0.5, peers: FRAMEWORKS.nestjs.memoryPeers },
  { framework: 'hono', subject: 'tollgate-memory', factor: 0.5, peers: FRAMEWORKS.hono.memoryPeers },
  { framework: 'fetch', subject: 'tollgate-memory', factor: 0.5, peers: FRAMEWORKS.fetch.memoryPeers },
  { framework: 'fastify', subject: 'tollgate-redis', factor: 0.5, peers: ['fastify-rate-limit-redis'] },
  { framework: 'express', subject: 'tollgate-telemetry', factor: 0.4, peers: ['otel'] },
  { framework: 'express', subject: 'tollgate-metrics', factor: 0.5, peers: ['express-prom-bundle'] },
  { framework: 'fastify', subject: 'tollgate-metrics', factor: 0.5, peers: ['fastify-metrics'] },
];

export const MEMORY_STORES = [
  'tollgate-store',
  'tollgate-store-cached-clock',
  'tollgate-limiter',
  'express-rate-limit',
  'rate-limiter-flexible',
  'fastify-rate-limit',
  'koa-ratelimit',
];
export const REDIS_STORES = [
  'tollgate-redis',
  'tollgate-redis-uncoalesced',
  'rate-limit-redis',
  'rate-limiter-flexible-redis',
  'fastify-rate-limit-redis',
  'koa-ratelimit-redis',
];
export const HEAP_STORES = [
  'tollgate',
  'express-rate-limit',
  'rate-limiter-flexible',
  'fastify-rate-limit',
  'koa-ratelimit',
];

export const SETTINGS = {
  quick: {
    reps: 1,
    seconds: 2,
    warmup: 1,
    storeSeconds: 1,
    storeWarmup: 0.5,
    storeReps: 1,
    ceilingRequests: 100_000,
    heapKeys: 200_000,
  },
  full: {
    reps: 3,
    // Express's bare server moves by ±10 % between runs: more pairs, so effects of about 2 µs show
    // in the spread (bench/README.md, Method).
    repsByFramework: { express: 5 },
    seconds: 3,
    warmup: 1,
    storeSeconds: 1,
    storeWarmup: 0.5,
    storeReps: 3,
    ceilingRequests: 300_000,
    heapKeys: 200_000,
  },
};
