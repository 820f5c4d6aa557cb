import {
  type Decision,
  MemoryStore,
  RateLimiter,
  type RateLimiterOptions,
  type RedisClientLike,
  RedisStore,
  type Store,
} from '@tollgate/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniquePrefix } from '../helpers/redis.js';
import { type ClientKind, clientKinds } from './clients.js';

type Step =
  | { advance: number; op: 'consume'; key: string; cost?: number }
  | { advance: number; op: 'peek'; key: string }
  | { advance: number; op: 'reset'; key: string };

interface Scenario {
  name: string;
  limiter: RateLimiterOptions;
  steps: Step[];
}

const c = (advance: number, key = 'a', cost?: number): Step =>
  cost === undefined ? { advance, op: 'consume', key } : { advance, op: 'consume', key, cost };

/** One table of call sequences, run against every store: each must answer every call alike. */
const scenarios: Scenario[] = [
  {
    name: 'a burst then refill, 5 per second',
    limiter: { max: 5, window: '1s' },
    steps: [
      c(0),
      c(0),
      c(0),
      c(0),
      c(0),
      c(0),
      c(199),
      c(1),
      c(0),
      c(400),
      c(0),
      c(0),
      { advance: 0, op: 'peek', key: 'a' },
    ],
  },
  {
    name: 'rate that does not divide the window, 7 per minute',
    limiter: { max: 7, window: '1m' },
    steps: [...Array.from({ length: 8 }, () => c(0)), c(8571), c(1), c(8571), c(8572), c(60_000), c(0, 'b')],
  },
  {
    name: 'burst above the rate',
    limiter: { max: 2, window: '1s', burst: 6 },
    steps: [...Array.from({ length: 7 }, () => c(0)), c(499), c(1), c(3000), c(0, 'a', 6), c(0)],
  },
  {
    name: 'costs greater than one, refused without being charged',
    limiter: { max: 10, window: '10s' },
    steps: [
      c(0, 'a', 4),
      c(0, 'a', 4),
      c(0, 'a', 4),
      c(0, 'a', 2),
      c(0, 'a', 1),
      c(999, 'a', 1),
      c(1, 'a', 1),
      c(0, 'a', 0),
    ],
  },
  {
    name: 'two policies all-or-nothing',
    limiter: {
      policies: [
        { max: 2, window: '1s' },
        { max: 5, window: '1h' },
      ],
    },
    steps: [c(0), c(0), c(0), c(1000), c(0), c(0), c(1000), c(0), c(0), { advance: 0, op: 'peek', key: 'a' }],
  },
  {
    name: 'reset refills, keys are separate',
    limiter: { max: 2, window: '1d' },
    steps: [c(0), c(0), c(0), c(0, 'b'), { advance: 0, op: 'reset', key: 'a' }, c(0), c(0), c(0), c(0, 'b')],
  },
];

async function play(store: Store, clock: { now: number }, options: RateLimiterOptions, steps: Step[], prefix: string) {
  const limiter = new RateLimiter({ ...options, prefix, store } as RateLimiterOptions);
  const out: (Decision | 'reset')[] = [];
  for (const step of steps) {
    clock.now += step.advance;
    if (step.op === 'consume') out.push(await limiter.consume(step.key, step.cost ?? 1));
    else if (step.op === 'peek') out.push(await limiter.peek(step.key));
    else {
      await limiter.reset(step.key);
      out.push('reset');
    }
  }
  return out;
}

/** Every client family, on one Redis and on the Cluster: each must answer as the memory store does. */
for (const kind of clientKinds) describeKind(kind);

function describeKind(kind: ClientKind) {
  describe.skipIf(!kind.enabled)(`MemoryStore and RedisStore on ${kind.name} answer alike`, () => {
    let client: RedisClientLike;
    beforeAll(async () => {
      client = await kind.open();
    });
    afterAll(() => kind.close(client));

    function stores() {
      const clock = { now: 1_764_000_000_000 };
      return {
        clock,
        memory: new MemoryStore({ now: () => clock.now }),
        redis: new RedisStore({ client, now: () => clock.now }),
      };
    }

    it.each(scenarios)('$name', async ({ limiter, steps }) => {
      const a = stores();
      const fromMemory = await play(a.memory, a.clock, limiter, steps, uniquePrefix('eqm'));
      const b = stores();
      const fromRedis = await play(b.redis, b.clock, limiter, steps, uniquePrefix('eqr'));
      expect(fromRedis).toEqual(fromMemory);
      // The table must exercise refusals, or it proves little.
      expect(fromMemory.some((d) => d !== 'reset' && !d.allowed)).toBe(true);
    });

    it('random call sequences give identical decisions on both stores', async () => {
      const step = fc.record({
        advance: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 })),
        op: fc.constantFrom<'consume' | 'peek' | 'reset'>('consume', 'consume', 'consume', 'consume', 'peek', 'reset'),
        key: fc.constantFrom('a', 'b'),
        cost: fc.integer({ min: 0, max: 3 }),
      });
      const policy = fc.record({
        max: fc.integer({ min: 3, max: 20 }),
        window: fc.integer({ min: 1, max: 20_000 }),
        burst: fc.option(fc.integer({ min: 3, max: 30 }), { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.array(policy, { minLength: 1, maxLength: 3 }),
          fc.array(step, { maxLength: 40 }),
          async (policies, steps) => {
            const unique = policies.filter(
              (p, i) =>
                policies.findIndex((q) => q.max === p.max && q.window === p.window && q.burst === p.burst) === i,
            );
            const options: RateLimiterOptions = {
              policies: unique.map((p) =>
                p.burst === undefined ? { max: p.max, window: p.window } : { ...p, burst: p.burst },
              ),
            };
            const a = stores();
            const b = stores();
            const fromMemory = await play(a.memory, a.clock, options, steps as Step[], uniquePrefix('pm'));
            const fromRedis = await play(b.redis, b.clock, options, steps as Step[], uniquePrefix('pr'));
            expect(fromRedis).toEqual(fromMemory);
          },
        ),
        { numRuns: 60 },
      );
    });

    it('random consume, adjust, lower and peek calls on the stores themselves agree', async () => {
      const buckets = [
        { id: 'rpm', capacity: 50, ratePerMs: 50 / 60_000 },
        { id: 'itpm', capacity: 30_000, ratePerMs: 30_000 / 60_000 },
      ];
      const call = fc.record({
        advance: fc.integer({ min: 0, max: 3000 }),
        op: fc.constantFrom<'consume' | 'adjust' | 'lower' | 'peek'>('consume', 'adjust', 'lower', 'peek'),
        values: fc.tuple(fc.integer({ min: -60, max: 60 }), fc.integer({ min: -40_000, max: 40_000 })),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(call, { maxLength: 40 }), async (calls) => {
          const a = stores();
          const b = stores();
          const key = uniquePrefix('ops');
          for (const { advance, op, values } of calls) {
            a.clock.now += advance;
            b.clock.now += advance;
            const run = (store: Store) =>
              op === 'peek'
                ? store.peek(key, buckets)
                : (store[op] as NonNullable<Store['adjust']>)(key, buckets, values);
            expect(await run(b.redis)).toEqual(await run(a.memory));
          }
        }),
        { numRuns: 60 },
      );
    });
  });
}
