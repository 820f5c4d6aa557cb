import { describe, expect, it } from 'vitest';
import { register } from '../telemetry/registry.js';
import { HttpRateLimiter } from './http-limiter.js';

const reader = { ip: () => '10.0.0.1', header: () => undefined };
const quiet = { info() {}, warn() {}, error() {} };

async function count(limiter: string, outcome: string): Promise<number> {
  const text = await register.getSingleMetricAsString('tollgate_ratelimit_decisions_total');
  const prefix = `tollgate_ratelimit_decisions_total{limiter="${limiter}",outcome="${outcome}",source="store"} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

describe('how a shadow limiter changes the decisions metric', () => {
  it('not when it is only built (as Fastify builds one to check global: false defaults)', async () => {
    const enforcing = new HttpRateLimiter({ max: 1, window: '7m', logger: quiet }, reader);
    enforcing.handle({});
    // Unnamed, the same policy: the same metric label. Built, never asked to decide.
    new HttpRateLimiter({ max: 1, window: '7m', mode: 'shadow', logger: quiet }, reader);
    enforcing.handle({});
    const label = enforcing.limiter.label;
    expect(await count(label, 'limited')).toBe(1);
    expect(await count(label, 'shadow_limited')).toBe(0);
  });

  it('from its first request: would-be refusals are shadow_limited, and it warns when an enforcing limiter shares its label', async () => {
    const warnings: string[] = [];
    const logger = { info() {}, warn: (_f: object, m: string) => warnings.push(m), error() {} };
    const shadow = new HttpRateLimiter({ max: 1, window: '9m', name: 'count-mode', mode: 'shadow', logger }, reader);
    for (let i = 0; i < 3; i++) shadow.handle({});
    expect(await count('count-mode', 'shadow_limited')).toBe(2);
    expect(await count('count-mode', 'limited')).toBe(0);
    expect(warnings.filter((w) => w.includes('runs in mode'))).toEqual([]);
    new HttpRateLimiter({ max: 1, window: '9m', name: 'count-mode', logger }, reader).handle({});
    expect(warnings.filter((w) => w.includes("runs in mode 'enforce'"))).toHaveLength(1);
  });
});
