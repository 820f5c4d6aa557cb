import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without type declarations.
import { render, SVG_PATH, simulate } from '../../docs/scripts/token-bucket-diagram.mjs';

type Request = { t: number; allowed: boolean; remaining: number; retryAfterMs: number };

/**
 * docs/assets/token-bucket.svg is drawn from a real RateLimiter (here, the sources). If the
 * limiter's behaviour changes, the committed picture must be redrawn:
 *   npm run build && node docs/scripts/token-bucket-diagram.mjs
 */
describe('docs/assets/token-bucket.svg', () => {
  it('is what the limiter does today', async () => {
    expect(readFileSync(SVG_PATH, 'utf8')).toBe(await render());
  });

  it('shows a burst capped at the capacity, refusals, and a steady refill of one token a second', async () => {
    const { samples, requests } = (await simulate()) as { samples: [number, number][]; requests: Request[] };
    const burst = requests.filter((r) => r.t < 2000);
    expect(burst.filter((r) => r.allowed)).toHaveLength(10);
    expect(burst.filter((r) => !r.allowed).length).toBeGreaterThan(0);
    expect(Math.max(...samples.map(([, tokens]) => tokens))).toBe(10);
    // Quiet from 14 s on: one token a second until full.
    const at = (t: number) => samples.filter(([time]) => time === t).at(-1)?.[1] as number;
    expect(at(20_000) - at(17_000)).toBeCloseTo(3, 6);
    for (const r of requests.filter((r) => !r.allowed)) expect(r.retryAfterMs).toBeGreaterThan(0);
  });
});
