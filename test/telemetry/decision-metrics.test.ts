import { type FailMode, type Logger, RateLimiter, register } from '@tollgate/core';
import { describe, expect, it } from 'vitest';
import { brokenStore } from '../helpers/broken-store.js';
import { injectedPromtool, runPromtool } from '../helpers/promtool.js';

/**
 * Issue 12, item 8: every decision made during an outage was counted as `outcome="fallback"`,
 * so refusals could not be told from admissions. The outcome (what happened to the request) and
 * the source (who decided) are two labels now, each from a fixed set.
 */
const silent: Logger = { info() {}, warn() {}, error() {} };

/** `tollgate_ratelimit_decisions_total` lines of one limiter, as scraped. */
async function series(limiter: string): Promise<string[]> {
  return (await register.metrics())
    .split('\n')
    .filter((line) => line.startsWith(`tollgate_ratelimit_decisions_total{limiter="${limiter}",`))
    .sort();
}

async function decide(failMode: FailMode, name: string, requests: number): Promise<void> {
  const limiter = new RateLimiter({ max: 2, window: '1h', name, store: brokenStore(), failMode, logger: silent });
  for (let i = 0; i < requests; i++) await limiter.consume('203.0.113.7');
}

describe('tollgate_ratelimit_decisions_total during an outage', () => {
  it('failMode \'local\': admissions and refusals of the local bucket are counted apart, source="local"', async () => {
    await decide('local', 'outage-local', 5);
    expect(await series('outage-local')).toEqual([
      'tollgate_ratelimit_decisions_total{limiter="outage-local",outcome="allowed",source="local"} 2',
      'tollgate_ratelimit_decisions_total{limiter="outage-local",outcome="limited",source="local"} 3',
    ]);
  });

  it("failMode 'open' and 'closed': admitted by open, refused with 503 by closed", async () => {
    await decide('open', 'outage-open', 3);
    await decide('closed', 'outage-closed', 3);
    expect(await series('outage-open')).toEqual([
      'tollgate_ratelimit_decisions_total{limiter="outage-open",outcome="allowed",source="open"} 3',
    ]);
    expect(await series('outage-closed')).toEqual([
      'tollgate_ratelimit_decisions_total{limiter="outage-closed",outcome="store_error",source="closed"} 3',
    ]);
  });

  it('a working store: source="store"', async () => {
    const limiter = new RateLimiter({ max: 1, window: '1h', name: 'healthy' });
    await limiter.consume('a');
    await limiter.consume('a');
    expect(await series('healthy')).toEqual([
      'tollgate_ratelimit_decisions_total{limiter="healthy",outcome="allowed",source="store"} 1',
      'tollgate_ratelimit_decisions_total{limiter="healthy",outcome="limited",source="store"} 1',
    ]);
  });

  it.skipIf(!injectedPromtool().available)('the scrape with these series passes promtool check metrics', async () => {
    await decide('local', 'outage-lint', 3);
    const body = await register.metrics();
    expect(body).toContain('source="local"');
    expect(runPromtool(['check', 'metrics'], { input: body })).toEqual({ status: 0, output: '' });
  });
});
