import type Anthropic from '@anthropic-ai/sdk';
import { register } from '@tollgate/core';
import { ClaudeRateLimiter } from '@tollgate/llm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClaude } from '../helpers/fake-claude.js';
import { redis } from '../helpers/redis.js';
import { outageKit, SLACK_MS, TIMEOUT_MS } from './outage-support.js';
import { collectingLogger, params, sdk } from './support.js';

/**
 * Redis restarted under traffic: with the default `failMode: 'local'` every call keeps going
 * (admitted by in-process buckets with the same limits, each store call bounded by `timeoutMs`,
 * then by the open circuit breaker), and once Redis is back the limiter uses it again. Usage
 * settled while it was down is counted as lost (metric and log line), not replayed. Through the
 * real SDK at the fake API, on a redis-server the test starts on its own port.
 */

const kit = outageKit();
const MODEL = 'claude-sonnet-5';
const LIMITS = { '*': { rpm: 6_000, itpm: 1_000_000, otpm: 1_000_000 } };

/** The circuit breaker's series in core's families, for the limiter label `llm:<prefix>`. */
async function circuit(limiter: string): Promise<{ state: number | undefined; opened: number }> {
  const state = register.getSingleMetric('tollgate_ratelimit_circuit_state');
  const transitions = register.getSingleMetric('tollgate_ratelimit_circuit_transitions_total');
  const states = state === undefined ? [] : (await state.get()).values;
  const changes = transitions === undefined ? [] : (await transitions.get()).values;
  return {
    state: states.find((v) => v.labels.limiter === limiter)?.value,
    opened: changes
      .filter((v) => v.labels.limiter === limiter && v.labels.to === 'open')
      .reduce((n, v) => n + v.value, 0),
  };
}

async function failedWrites(write: string): Promise<number> {
  const metric = register.getSingleMetric('tollgate_claude_store_writes_failed_total');
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values.filter((v) => v.labels.model === MODEL && v.labels.write === write).reduce((n, v) => n + v.value, 0);
}

describe.skipIf(!redis.binary)('ClaudeRateLimiter through a Redis restart', () => {
  let fake: FakeClaude;
  let anthropic: Anthropic;
  beforeAll(async () => {
    fake = await FakeClaude.start();
    anthropic = sdk(fake.url);
  });
  afterEach(() => fake.clear());
  afterAll(() => fake.close());

  it('keeps admitting (failMode local) while Redis is down, and goes back to Redis once it restarts', async () => {
    const server = await kit.server();
    const log = collectingLogger();
    const claude = new ClaudeRateLimiter({
      redis: kit.client(server.url),
      timeoutMs: TIMEOUT_MS,
      limits: LIMITS,
      circuit: { failures: 3, minOpenMs: 200, maxOpenMs: 400 },
      prefix: 'restart',
      logger: log.logger,
    });
    const call = () =>
      kit.timed('restart run', () => claude.run(MODEL, params(MODEL, 10), (p) => anthropic.messages.create(p)));

    const before = await Promise.all([1, 2, 3].map(call));
    expect(before.every((r) => r.error === undefined)).toBe(true);
    const lostBefore = await failedWrites('ledger');

    await server.kill();
    const during: Awaited<ReturnType<typeof call>>[] = [];
    for (let i = 0; i < 8; i++) during.push(...(await Promise.all([call(), call()])));
    // Every call made while Redis was down reached the API and returned, none waited on Redis longer than timeoutMs.
    for (const r of during) {
      expect(r.error).toBeUndefined();
      expect(r.ms).toBeLessThan(TIMEOUT_MS * 3 + SLACK_MS);
    }
    const lostDuring = (await failedWrites('ledger')) - lostBefore;
    const down = await circuit('llm:restart');
    expect(down.opened).toBeGreaterThan(0);

    await server.start();
    // The breaker probes Redis again within maxOpenMs; ioredis reconnects on its own schedule.
    let recovered = false;
    for (let i = 0; i < 100 && !recovered; i++) {
      await call();
      recovered = log.lines.some((l) => /store recovered/.test(l.message));
      if (!recovered) await new Promise((r) => setTimeout(r, 100));
    }
    expect(recovered).toBe(true);
    // run() returns before its ledger write ends, and every write ends within timeoutMs: once that
    // has passed, each write sent so far has landed or been counted lost.
    const writesEnded = () => new Promise((r) => setTimeout(r, TIMEOUT_MS * 2 + 200));
    await writesEnded();
    const lostAtRecovery = await failedWrites('ledger');
    const after = await Promise.all([1, 2, 3, 4].map(call));
    expect(after.every((r) => r.error === undefined)).toBe(true);
    await writesEnded();
    const lostAfter = (await failedWrites('ledger')) - lostAtRecovery;
    // A reconnecting client may still fail a command or two (the breaker then opens again for
    // minOpenMs), so the read is retried for a bounded while.
    let stats: Awaited<ReturnType<typeof claude.getUsageStats>> | undefined;
    for (let i = 0; i < 50 && stats === undefined; i++) {
      stats = await claude.getUsageStats({ days: 1 }).catch(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    }
    if (stats === undefined) throw new Error('the restarted Redis never answered getUsageStats');
    // Written to the restarted Redis again, and nothing lost silently: each call since is in the
    // restarted ledger or counted lost (a write may still time out at 300 ms on a loaded machine).
    expect(stats.calls).toBeGreaterThan(0);
    expect(stats.calls + lostAfter).toBeGreaterThanOrEqual(after.length);
    // Core's circuit gauge: closed again (0) once the probe found Redis back.
    expect((await circuit('llm:restart')).state).toBe(0);

    const messages = log.lines.map((l) => l.message);
    console.log(
      `Redis restart under traffic: ${fake.messages().length} calls reached the API, ` +
        `${during.length} while Redis was down (slowest ${Math.round(Math.max(...during.map((r) => r.ms)))} ms), ` +
        `${lostDuring} ledger entries counted lost during the outage, ${stats.calls} calls in the restarted ledger; ` +
        `log: ${[...new Set(messages)].join(' | ')}`,
    );
    expect(lostDuring).toBeGreaterThan(0);
    expect(messages.some((m) => /store failed/.test(m))).toBe(true);
    expect(messages.some((m) => /circuit opened/.test(m))).toBe(true);
    expect(messages.some((m) => /usage not recorded in the ledger/.test(m))).toBe(true);
  }, 60_000);

  it('failMode local still enforces the limits while Redis is down, in this process', async () => {
    const server = await kit.server();
    const claude = new ClaudeRateLimiter({
      redis: kit.client(server.url),
      timeoutMs: TIMEOUT_MS,
      limits: { '*': { rpm: 2, itpm: 1_000_000, otpm: 1_000_000 } },
      logger: collectingLogger().logger,
    });
    await server.kill();
    await claude.run(MODEL, params(MODEL, 10), (p) => anthropic.messages.create(p), { waitMs: 0 });
    const refused = await kit.timed('local fallback refusal', () =>
      claude.run(MODEL, params(MODEL, 10), (p) => anthropic.messages.create(p), { waitMs: 0 }),
    );
    expect(refused.error?.code).toBe('TOLLGATE_RATE_LIMITED');
    expect(fake.messages()).toHaveLength(1);
  });

  it("failMode 'open' admits every call while Redis is down", async () => {
    const server = await kit.server();
    const claude = new ClaudeRateLimiter({
      redis: kit.client(server.url),
      timeoutMs: TIMEOUT_MS,
      failMode: 'open',
      limits: { '*': { rpm: 1, itpm: 1_000_000, otpm: 1_000_000 } },
      logger: collectingLogger().logger,
    });
    await server.kill();
    for (let i = 0; i < 3; i++) {
      await claude.run(MODEL, params(MODEL, 10), (p) => anthropic.messages.create(p), { waitMs: 0 });
    }
    expect(fake.messages()).toHaveLength(3);
  });

  it('rejects an unknown failMode and a bad circuit, naming the option', () => {
    expect(() => new ClaudeRateLimiter({ failMode: 'sometimes' as never })).toThrow(/failMode/);
    expect(() => new ClaudeRateLimiter({ circuit: { failures: 0 } })).toThrow(/circuit\.failures/);
    expect(() => new ClaudeRateLimiter({ circuit: false, failMode: 'closed' })).not.toThrow();
  });
});
