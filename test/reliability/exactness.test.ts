import { type PolicyOptions, RateLimiter, RedisStore } from '@tollgate/core';
import { tokenKey } from '@tollgate/core/adapter';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { clusterOf, combine, type FleetMember, type RouteResult, report, runFleet } from './support.js';

/**
 * Exactness at scale: four Node processes, each an Express app with its own Redis client, fire
 * concurrent requests for the same three clients at once. However the calls interleave, the
 * fleet admits exactly what the policy allows: for one policy, for several decided together,
 * and for requests that cost more than one token. Clocks minutes apart change nothing, since
 * the store's clock decides.
 */

const PROCESSES = 4;
const KEYS = 3;
/** Per process and scenario: 4 × 90 / 3 = 120 requests per client, far over any limit below. */
const REQUESTS = 90;
const MINUTE = 60_000;
/** Clocks up to eleven minutes apart. */
const SKEWED = [0, 3 * MINUTE, -4 * MINUTE, 7 * MINUTE];
const AGREED = [0, 0, 0, 0];

interface Scenario {
  name: string;
  policies: PolicyOptions[];
  cost: number;
  /** Admitted per client. Windows are long: nothing refills by a whole token during a burst. */
  expected: number;
  /** Whole tokens left per policy afterwards. */
  left: number[];
}

const SCENARIOS: Scenario[] = [
  { name: 'single', policies: [{ max: 50, window: '1h' }], cost: 1, expected: 50, left: [0] },
  {
    name: 'multi',
    policies: [
      { max: 40, window: '1h' },
      { max: 1000, window: '1d', burst: 24 },
    ],
    cost: 1,
    expected: 24,
    // All-or-nothing: the 96 refused requests per client took nothing from the first bucket.
    left: [16, 0],
  },
  { name: 'cost3', policies: [{ max: 50, window: '1h' }], cost: 3, expected: 16, left: [2] },
];

const clients = Array.from({ length: KEYS }, (_, i) => `client-${i}`);

interface Backend {
  name: string;
  enabled: boolean;
  env: () => Record<string, string>;
  store: () => Promise<RedisStore>;
}

const opened: { quit(): Promise<unknown> }[] = [];
afterAll(async () => {
  await Promise.all(opened.map((c) => c.quit()));
});

const backends: Backend[] = [
  {
    name: 'one Redis',
    enabled: redis.server,
    env: () => ({ REDIS_URL }),
    store: async () => {
      const client = new Redis(REDIS_URL);
      opened.push(client);
      return new RedisStore({ client });
    },
  },
  {
    name: 'Redis Cluster',
    enabled: redis.server && redis.binary && redis.clusterNodes.length > 0,
    env: () => ({ CLUSTER_NODES: redis.clusterNodes.join(',') }),
    store: async () => {
      const client = await clusterOf(redis.clusterNodes);
      opened.push(client);
      return new RedisStore({ client });
    },
  },
];

function check(backend: string, label: string, route: RouteResult, scenario: Scenario) {
  const requests = Object.values(route.statuses).reduce((a, b) => a + b, 0);
  const admitted = Object.values(route.admitted).reduce((a, b) => a + b, 0);
  report({
    scenario: `exact: ${backend}, ${label}, ${scenario.name}`,
    requests,
    admitted,
    expected: scenario.expected * KEYS,
    maxLatencyMs: Math.round(route.maxLatencyMs),
    errors: route.errors.length,
    dataLost: 0,
    notes: `${PROCESSES} processes, ${KEYS} clients, cost ${scenario.cost}`,
  });
  expect(route.errors).toEqual([]);
  expect(requests).toBe(PROCESSES * REQUESTS);
  for (const client of clients) expect(route.admitted[client] ?? 0, `${client} admitted`).toBe(scenario.expected);
}

/** What the store holds afterwards, read by a limiter like the fleet's: exactly what was taken. */
async function checkBuckets(store: RedisStore, prefix: string, scenario: Scenario) {
  const limiter = new RateLimiter({ policies: scenario.policies, name: `s-${scenario.name}`, prefix, store });
  for (const client of clients) {
    const decision = await limiter.peek(tokenKey(client));
    expect(decision.source).toBe('store');
    expect(decision.policies.map((p) => p.remaining)).toEqual(scenario.left);
  }
}

for (const backend of backends) {
  describe.skipIf(!backend.enabled)(`exactness at scale on ${backend.name}`, () => {
    const members: FleetMember[] = [];
    afterEach(async () => {
      await Promise.all(members.splice(0).map((m) => m.stop()));
    });

    const env = (prefix: string, extra: Record<string, string> = {}) => ({
      ...backend.env(),
      PREFIX: prefix,
      SCENARIOS: JSON.stringify(SCENARIOS),
      REQUESTS: String(REQUESTS),
      KEYS: String(KEYS),
      ...extra,
    });

    it(`${PROCESSES} processes with clocks in agreement admit exactly the policy (single, multi-policy, cost 3)`, async () => {
      const prefix = uniquePrefix('exact');
      const { results } = await runFleet(env(prefix), AGREED, members);
      const routes = combine(results);
      const store = await backend.store();
      for (const scenario of SCENARIOS) {
        check(backend.name, 'clocks agree', routes[`/s/${scenario.name}`] as RouteResult, scenario);
        await checkBuckets(store, prefix, scenario);
      }
    });

    it(`${PROCESSES} processes with clocks up to 11 minutes apart admit exactly the same (the server's clock decides)`, async () => {
      const prefix = uniquePrefix('exact-skew');
      const { results, clocks, urls } = await runFleet(env(prefix, { APP_CLOCK: '1' }), SKEWED, members);
      // The harness really skewed the clocks.
      expect(Math.max(...clocks) - Math.min(...clocks)).toBeGreaterThan(10 * MINUTE);
      const routes = combine(results);
      const store = await backend.store();
      for (const scenario of SCENARIOS) {
        check(backend.name, 'clocks 11 min apart', routes[`/s/${scenario.name}`] as RouteResult, scenario);
        await checkBuckets(store, prefix, scenario);
      }
      // The skew has teeth: the same fleet timing buckets by its own clocks over-admits. Shown
      // in order, for a fresh client: the process 4 minutes behind spends the budget, then the
      // one 7 minutes ahead finds 11 minutes of refill (9 tokens) that never happened.
      const sequence = async (mount: string) => {
        let admitted = 0;
        for (const [member, count] of [
          [2, 60],
          [3, 20],
        ] as const) {
          for (let i = 0; i < count; i++) {
            const res = await fetch(`${urls[member]}/${mount}/single`, { headers: { 'x-api-key': 'teeth' } });
            await res.arrayBuffer();
            if (res.status === 200) admitted += 1;
          }
        }
        return admitted;
      };
      const appAdmitted = await sequence('app');
      const serverAdmitted = await sequence('s');
      const burstAppAdmitted = Object.values((routes['/app/single'] as RouteResult).admitted).reduce(
        (a, b) => a + b,
        0,
      );
      console.log(
        `${backend.name}, clocks 11 min apart, limit 50: in order, app clocks admitted ${appAdmitted}, the server's ${serverAdmitted}; in the burst, app clocks admitted ${burstAppAdmitted} for ${50 * KEYS}`,
      );
      expect(serverAdmitted).toBe(50);
      expect(appAdmitted).toBeGreaterThan(50);
    });
  });
}
