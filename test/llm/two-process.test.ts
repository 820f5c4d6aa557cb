import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClaude, type ReceivedRequest } from '../helpers/fake-claude.js';
import { GoProcess } from '../helpers/go-process.js';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';

/**
 * Two Node processes, each a ClaudeRateLimiter from the built @tollgate/core on one Redis, fire
 * bursts of calls through the real SDK at one fake Claude API. What reaches the API (the calls
 * the limiters admitted, with the usage the API reported) never exceeds the ITPM or OTPM limit,
 * beyond what the buckets refilled while the burst ran.
 */

const FIXTURE = fileURLToPath(new URL('../fixtures/claude-burst.mjs', import.meta.url));

/** ITPM binds for sonnet (1,000 input per call), OTPM for haiku (500 reserved, 400 produced per call). */
const ITPM_MODEL = 'claude-sonnet-4-6';
const OTPM_MODEL = 'claude-haiku-4-5';
const LIMITS = {
  [ITPM_MODEL]: { rpm: 5_000, itpm: 10_000, otpm: 1_000_000 },
  [OTPM_MODEL]: { rpm: 5_000, itpm: 1_000_000, otpm: 4_000 },
};
/** Per model and process: 15 × 1,000 input or 15 × 400 output is already more than either limit. */
const CALLS = 15;
const PLAN = [
  { model: ITPM_MODEL, calls: CALLS, inputTokens: 1_000, maxTokens: 100 },
  { model: OTPM_MODEL, calls: CALLS, inputTokens: 100, maxTokens: 500 },
];
/** What the fake API reports for each admitted call. */
const USAGE: Record<string, { input_tokens: number; output_tokens: number }> = {
  [ITPM_MODEL]: { input_tokens: 1_000, output_tokens: 50 },
  [OTPM_MODEL]: { input_tokens: 100, output_tokens: 400 },
};

interface Burst {
  admitted: number;
  refused: number;
  errors: string[];
  /** Of those, the streamed calls. */
  streamed: { admitted: number; refused: number };
}

class BurstProcess extends GoProcess {
  readonly ready: Promise<void>;
  readonly result: Promise<Record<string, Burst>>;

  constructor(env: Record<string, string>) {
    super([FIXTURE], env, 'burst');
    this.ready = this.line(/^READY$/m).then(() => undefined);
    this.result = this.resultLine<Record<string, Burst>>();
  }
}

describe.skipIf(!redis.server)('two processes sharing Redis never exceed ITPM/OTPM between them', () => {
  let fake: FakeClaude;
  const processes: BurstProcess[] = [];

  beforeAll(async () => {
    fake = await FakeClaude.start({
      respond: (request: ReceivedRequest) => {
        const model = (request.body as { model?: string }).model ?? '';
        const usage = USAGE[model];
        // A little latency, as a real API has: the calls overlap.
        return usage === undefined ? { status: 404 } : { usage, delayMs: 20 };
      },
    });
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
  });
  afterAll(() => fake.close());

  it(`${CALLS} concurrent calls per model from each of two processes`, () => burst(0));

  // Half the calls streamed (messages.create with stream: true), settled from their usage events.
  it(`${CALLS} concurrent calls per model from each of two processes, half of them streamed`, () => burst(2));

  async function burst(streamEvery: number): Promise<void> {
    fake.clear();
    const env = {
      REDIS_URL,
      PREFIX: uniquePrefix('claude-2p'),
      FAKE_URL: fake.url,
      LIMITS: JSON.stringify(LIMITS),
      PLAN: JSON.stringify(PLAN),
      STREAM_EVERY: String(streamEvery),
    };
    processes.push(new BurstProcess({ ...env, NAME: 'a' }), new BurstProcess({ ...env, NAME: 'b' }));
    await Promise.all(processes.map((p) => p.ready));
    const start = Date.now();
    for (const p of processes) p.go();
    const results = await Promise.all(processes.map((p) => p.result));
    const elapsedMs = Date.now() - start;

    const received = fake.messages();
    const firstAt = Math.min(...received.map((r) => r.at));
    // Only the first minute counts (the whole burst takes a fraction of it).
    const inFirstMinute = received.filter((r) => r.at - firstAt < 60_000);
    const total = (model: string, pick: (u: { input_tokens: number; output_tokens: number }) => number) =>
      inFirstMinute
        .filter((r) => (r.body as { model?: string }).model === model && r.status === 200)
        .reduce((sum, r) => sum + pick(r.usage as { input_tokens: number; output_tokens: number }), 0);
    const itpmAdmitted = total(ITPM_MODEL, (u) => u.input_tokens);
    const otpmAdmitted = total(OTPM_MODEL, (u) => u.output_tokens);
    // A bucket may also hand out what it refilled while the burst ran (limit per 60,000 ms).
    const itpmLimit = LIMITS[ITPM_MODEL].itpm;
    const otpmLimit = LIMITS[OTPM_MODEL].otpm;
    const itpmBound = itpmLimit + (itpmLimit * elapsedMs) / 60_000;
    const otpmBound = otpmLimit + (otpmLimit * elapsedMs) / 60_000;

    const sum = (model: string, field: 'admitted' | 'refused') =>
      results.reduce((n, r) => n + (r[model]?.[field] ?? 0), 0);
    const streamedSum = (model: string, field: 'admitted' | 'refused') =>
      results.reduce((n, r) => n + (r[model]?.streamed?.[field] ?? 0), 0);
    const streamedTokens = (model: string, pick: (u: { input_tokens: number; output_tokens: number }) => number) =>
      inFirstMinute
        .filter((r) => (r.body as { model?: string; stream?: boolean }).model === model && r.status === 200)
        .filter((r) => (r.body as { stream?: boolean }).stream === true)
        .reduce((n, r) => n + pick(r.usage as { input_tokens: number; output_tokens: number }), 0);
    const label = streamEvery > 0 ? 'two-process (half streamed)' : 'two-process';
    const perProcess = (model: string) => results.map((r) => r[model]?.admitted ?? 0).join(' + ');
    console.log(
      `${label} ITPM: admitted ${itpmAdmitted} input tokens of limit ${itpmLimit} ` +
        `(${sum(ITPM_MODEL, 'admitted')} calls = ${perProcess(ITPM_MODEL)} per process, ` +
        `${sum(ITPM_MODEL, 'refused')} refused; bound with refill over ${elapsedMs} ms: ${itpmBound.toFixed(0)})`,
    );
    console.log(
      `${label} OTPM: admitted ${otpmAdmitted} output tokens of limit ${otpmLimit} ` +
        `(${sum(OTPM_MODEL, 'admitted')} calls = ${perProcess(OTPM_MODEL)} per process, ` +
        `${sum(OTPM_MODEL, 'refused')} refused; bound with refill over ${elapsedMs} ms: ${otpmBound.toFixed(0)})`,
    );

    if (streamEvery > 0) {
      console.log(
        `${label} streamed: ITPM model ${streamedSum(ITPM_MODEL, 'admitted')} admitted / ` +
          `${streamedSum(ITPM_MODEL, 'refused')} refused, ${streamedTokens(ITPM_MODEL, (u) => u.input_tokens)} input tokens; ` +
          `OTPM model ${streamedSum(OTPM_MODEL, 'admitted')} admitted / ${streamedSum(OTPM_MODEL, 'refused')} refused, ` +
          `${streamedTokens(OTPM_MODEL, (u) => u.output_tokens)} output tokens`,
      );
      // Streamed calls were made and admitted alongside the others.
      expect(streamedSum(ITPM_MODEL, 'admitted') + streamedSum(OTPM_MODEL, 'admitted')).toBeGreaterThan(0);
      expect(streamedSum(ITPM_MODEL, 'admitted') + streamedSum(ITPM_MODEL, 'refused')).toBe(2 * Math.ceil(CALLS / 2));
    }

    // Every call either reached the API or was refused by the limiter: nothing else went wrong.
    for (const r of results) for (const burst of Object.values(r)) expect(burst.errors).toEqual([]);
    expect(sum(ITPM_MODEL, 'admitted') + sum(OTPM_MODEL, 'admitted')).toBe(received.length);
    expect(sum(ITPM_MODEL, 'admitted') + sum(ITPM_MODEL, 'refused')).toBe(2 * CALLS);
    expect(sum(OTPM_MODEL, 'admitted') + sum(OTPM_MODEL, 'refused')).toBe(2 * CALLS);

    // The limits held across both processes...
    expect(itpmAdmitted).toBeLessThanOrEqual(itpmBound);
    expect(otpmAdmitted).toBeLessThanOrEqual(otpmBound);
    // ...and had teeth: each process alone would have sent more than the limit allows.
    expect(sum(ITPM_MODEL, 'refused')).toBeGreaterThan(0);
    expect(sum(OTPM_MODEL, 'refused')).toBeGreaterThan(0);
    // ...without starving: the buckets were used, not left idle.
    expect(itpmAdmitted).toBeGreaterThan(itpmLimit - 1_000);
    expect(otpmAdmitted).toBeGreaterThan(otpmLimit - 2 * 500);
  }
});
