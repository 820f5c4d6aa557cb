import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClaude } from '../helpers/fake-claude.js';
import { GoProcess } from '../helpers/go-process.js';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';

/**
 * Issue 15 defect 10: a $1 daily budget shared on Redis by two processes, each firing 40
 * concurrent run() calls with a 60,000-character PDF, while the API reports 100,000 input tokens
 * a call. The budget held the *estimated* input (undercounted, and capped at the ITPM capacity),
 * so 80 of 80 were admitted and $24.12 spent. It must hold a true worst case: the spend reported
 * by the API never passes the budget.
 */

const FIXTURE = fileURLToPath(new URL('../fixtures/claude-budget-overshoot.mjs', import.meta.url));
const MODEL = 'claude-sonnet-4-6'; // $3 / $15 per million input / output tokens
const CALLS = 40;
const REPORTED = { input_tokens: 100_000, output_tokens: 100 };
/** 100,000 × 3 + 100 × 15 µ$ = $0.3015 a call. */
const CALL_USD = (REPORTED.input_tokens * 3 + REPORTED.output_tokens * 15) / 1e6;

interface Outcome {
  admitted: number;
  refused: number;
  errors: string[];
}

class OvershootProcess extends GoProcess {
  readonly ready: Promise<void>;
  readonly result: Promise<Outcome>;

  constructor(env: Record<string, string>) {
    super([FIXTURE], env, 'budget');
    this.ready = this.line(/^READY$/m).then(() => undefined);
    this.result = this.resultLine<Outcome>();
  }
}

describe.skipIf(!redis.server)('a $1 daily budget, two processes × 40 concurrent calls with a large PDF', () => {
  let fake: FakeClaude;
  const processes: OvershootProcess[] = [];

  beforeAll(async () => {
    // A little latency, as a real API has: the calls overlap.
    fake = await FakeClaude.start({ respond: () => ({ usage: REPORTED, delayMs: 50 }) });
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    fake.clear();
  });
  afterAll(() => fake.close());

  async function burst(extra: Record<string, string> = {}) {
    const env = {
      REDIS_URL,
      PREFIX: uniquePrefix('claude-overshoot'),
      FAKE_URL: fake.url,
      MODEL,
      CALLS: String(CALLS),
      PDF_CHARS: '60000',
      ...extra,
    };
    const pair = [new OvershootProcess({ ...env, NAME: 'a' }), new OvershootProcess({ ...env, NAME: 'b' })];
    processes.push(...pair);
    await Promise.all(pair.map((p) => p.ready));
    for (const p of pair) p.go();
    const results = await Promise.all(pair.map((p) => p.result));
    const admitted = results.reduce((n, r) => n + r.admitted, 0);
    const refused = results.reduce((n, r) => n + r.refused, 0);
    const spent = fake.messages().filter((r) => r.status === 200).length * CALL_USD;
    for (const r of results) expect(r.errors).toEqual([]);
    expect(admitted + refused).toBe(2 * CALLS);
    expect(fake.calls).toBe(admitted);
    return { admitted, refused, spent };
  }

  it('the estimate alone: the hold is the most input the request can carry, so the spend stays under $1', async () => {
    const { admitted, refused, spent } = await burst();
    console.log(
      `budget overshoot, estimated input: ${admitted} of ${2 * CALLS} admitted (${refused} refused), $${spent.toFixed(4)} spent of $1`,
    );
    expect(spent).toBeLessThanOrEqual(1);
    expect(admitted).toBeGreaterThan(0);
  });

  it("with the caller's exact inputTokens the hold is exact, and the budget is used up to its bound", async () => {
    const { admitted, refused, spent } = await burst({ INPUT_TOKENS: String(REPORTED.input_tokens) });
    console.log(
      `budget overshoot, exact inputTokens: ${admitted} of ${2 * CALLS} admitted (${refused} refused), $${spent.toFixed(4)} spent of $1`,
    );
    expect(spent).toBeLessThanOrEqual(1);
    // Worst case a call: 100,000 × 3 + 100 max_tokens × 15 = $0.3015; three fit in $1.
    expect(admitted).toBe(3);
  });
});
