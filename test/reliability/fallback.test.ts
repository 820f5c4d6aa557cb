import type { PolicyOptions } from '@tollgate/core';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisProcess, redis, uniquePrefix } from '../helpers/redis.js';
import { type FleetMember, type FleetResult, type RouteResult, report, runFleet } from './support.js';

/**
 * The fallback, process by process: with `failMode: 'local'` and the store gone (refusing
 * connections) or hung (paused, so every call runs into `timeoutMs`), each process answers
 * from its own in-process buckets with the same policy. A fleet then admits up to one policy
 * per process, never more: each process on its own stays exactly within the policy.
 */

const PROCESSES = 4;
const KEYS = 2;
const REQUESTS = 60;

const SCENARIOS: { name: string; policies: PolicyOptions[]; cost: number; expected: number }[] = [
  { name: 'single', policies: [{ max: 10, window: '1h' }], cost: 1, expected: 10 },
  {
    name: 'multi',
    policies: [
      { max: 20, window: '1h' },
      { max: 100, window: '1d', burst: 7 },
    ],
    cost: 1,
    expected: 7,
  },
  { name: 'cost3', policies: [{ max: 10, window: '1h' }], cost: 3, expected: 3 },
];

describe.skipIf(!redis.server || !redis.binary)(
  "failMode 'local': each process stays within the policy on its own",
  () => {
    const members: FleetMember[] = [];
    let server: RedisProcess | undefined;
    afterEach(async () => {
      await Promise.all(members.splice(0).map((m) => m.stop()));
      await server?.stop();
      server = undefined;
    });

    function checkEach(label: string, results: FleetResult[]) {
      for (const scenario of SCENARIOS) {
        const route = `/s/${scenario.name}`;
        let admitted = 0;
        let maxLatencyMs = 0;
        const errors: string[] = [];
        for (const result of results) {
          const r = result[route] as RouteResult;
          errors.push(...r.errors);
          maxLatencyMs = Math.max(maxLatencyMs, r.maxLatencyMs);
          // Every process, every client: exactly the policy, from its own bucket.
          for (let k = 0; k < KEYS; k++) expect(r.admitted[`client-${k}`] ?? 0).toBe(scenario.expected);
          admitted += Object.values(r.admitted).reduce((a, b) => a + b, 0);
        }
        report({
          scenario: `fallback local: ${label}, ${scenario.name}`,
          requests: PROCESSES * REQUESTS,
          admitted,
          expected: `≤ ${scenario.expected * KEYS} per process (${scenario.expected * KEYS * PROCESSES})`,
          maxLatencyMs: Math.round(maxLatencyMs),
          errors: errors.length,
          dataLost: 0,
          notes: `${PROCESSES} processes, ${KEYS} clients, cost ${scenario.cost}`,
        });
        expect(errors).toEqual([]);
      }
    }

    const env = (url: string) => ({
      REDIS_URL: url,
      PREFIX: uniquePrefix('fallback'),
      SCENARIOS: JSON.stringify(SCENARIOS),
      REQUESTS: String(REQUESTS),
      KEYS: String(KEYS),
      FAIL_MODE: 'local',
      TIMEOUT_MS: '150',
    });

    it('Redis refusing connections (killed)', async () => {
      server = await RedisProcess.start();
      const url = server.url;
      await server.kill();
      const { results } = await runFleet(env(url), [0, 0, 0, 0], members);
      checkEach('Redis killed', results);
    });

    it('Redis hung (SIGSTOP): every call runs into timeoutMs', async () => {
      const hung = await RedisProcess.start();
      server = hung;
      const { results } = await runFleet(env(hung.url), [0, 0, 0, 0], members, () => hung.pause());
      checkEach('Redis hung', results);
    });
  },
);
