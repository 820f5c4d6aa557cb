import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { report } from './support.js';

/**
 * A flood of one million distinct client keys (random-looking IPv4 addresses) into a
 * MemoryStore, through RateLimiter.consume, each run in a Node process of its own with
 * --expose-gc so the heap can be measured after a full collection:
 *
 * - into a store bounded at 10,000 keys: the store never holds more, the heap ends within
 *   what 10,000 entries cost (measured when the store first filled, and under an absolute
 *   1 KiB per key), clients that come back every 1,000 flood keys keep their counters, and so
 *   must a client that spent its whole budget and keeps knocking;
 * - into a default store (maxKeys 1,000,000, just reached): what a million entries cost, per
 *   key and in RSS.
 *
 * Timings (slowest consume, event-loop delay, µs per consume) are printed, never asserted.
 */

const FLOOD = 1_000_000;
const BOUNDED = 10_000;
/** Live clients come back every this many flood keys: well within the last maxKeys used. */
const CHECK_EVERY = 1000;
/** What one entry may cost at most: the bound `maxKeys` implies is maxKeys × this. Measured: ~250 B. */
const MAX_BYTES_PER_KEY = 1024;
const FIXTURE = fileURLToPath(new URL('../fixtures/flood.mjs', import.meta.url));

interface FloodResult {
  flood: number;
  maxKeys: number;
  consumes: number;
  elapsedMs: number;
  base: number;
  heapAtFull: number;
  heapEnd: number;
  bytesPerKey: number;
  rssPeak: number;
  maxSize: number;
  sizeEnd: number;
  evictions: number;
  liveFailures: unknown[];
  liveSpent: Record<string, number>;
  victimChecks: number;
  victimResetAt: number | null;
  idleRemaining: number;
  fillUsPerConsume: number | null;
  evictUsPerConsume: number | null;
  maxConsumeMs: number;
  slowConsumes: number;
  maxLoopDelayMs: number;
}

function flood(env: Record<string, string>): Promise<FloodResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', FIXTURE], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('exit', (code) => {
      const match = /^RESULT (.*)$/m.exec(out);
      if (code === 0 && match) resolve(JSON.parse(match[1] as string) as FloodResult);
      else reject(new Error(`flood process exited with ${code}: ${out}`));
    });
  });
}

const MB = 1024 * 1024;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

describe('a flood of one million distinct IPs into MemoryStore', () => {
  let bounded: FloodResult;
  let full: FloodResult;

  beforeAll(async () => {
    [bounded, full] = await Promise.all([
      flood({ FLOOD: String(FLOOD), MAX_KEYS: String(BOUNDED), CHECK_EVERY: String(CHECK_EVERY) }),
      flood({ FLOOD: String(FLOOD), CHECK_EVERY: String(CHECK_EVERY) }),
    ]);
    const growth = bounded.heapEnd - bounded.base;
    const fullGrowth = full.heapEnd - full.base;
    console.log(
      [
        `flood into maxKeys ${BOUNDED}: ${bounded.consumes} consumes in ${(bounded.elapsedMs / 1000).toFixed(1)} s, ${bounded.evictions} evictions`,
        `  heap: ${mb(bounded.base)} before, ${mb(bounded.heapAtFull)} when full, ${mb(bounded.heapEnd)} after (${bounded.bytesPerKey.toFixed(0)} B per key); peak RSS ${mb(bounded.rssPeak)}`,
        `  µs per consume: ${bounded.fillUsPerConsume?.toFixed(1)} while filling, ${bounded.evictUsPerConsume?.toFixed(1)} while evicting; slowest consume ${bounded.maxConsumeMs.toFixed(1)} ms (${bounded.slowConsumes} over 10 ms); event-loop delay max ${bounded.maxLoopDelayMs.toFixed(0)} ms`,
        `  live clients: ${JSON.stringify(bounded.liveSpent)} spent, failures ${bounded.liveFailures.length}; exhausted client reset at flood key ${bounded.victimResetAt ?? 'never'}`,
        `flood into a default store (maxKeys ${full.maxKeys}): ${full.sizeEnd} keys, ${full.evictions} evictions, exhausted client reset at ${full.victimResetAt ?? 'never'}`,
        `  heap ${mb(fullGrowth)} (${(fullGrowth / full.sizeEnd).toFixed(0)} B per key), peak RSS ${mb(full.rssPeak)}, ${(full.elapsedMs / 1000).toFixed(1)} s, slowest consume ${full.maxConsumeMs.toFixed(1)} ms, event-loop delay max ${full.maxLoopDelayMs.toFixed(0)} ms`,
      ].join('\n'),
    );
    const lost = bounded.liveFailures.length + (bounded.victimResetAt === null ? 0 : 1);
    report({
      scenario: `flood: 1M IPs into MemoryStore(maxKeys ${BOUNDED})`,
      requests: bounded.consumes,
      admitted: `${bounded.maxSize} keys max, ${bounded.bytesPerKey.toFixed(0)} B/key`,
      expected: `≤ ${BOUNDED} keys, ≤ ${mb(BOUNDED * MAX_BYTES_PER_KEY)}`,
      maxLatencyMs: Math.round(bounded.maxConsumeMs),
      errors: 0,
      dataLost: lost,
      notes: `heap +${mb(growth)}, peak RSS ${mb(bounded.rssPeak)}; live counters reset: ${lost}`,
    });
    report({
      scenario: 'flood: 1M IPs into MemoryStore(default maxKeys)',
      requests: full.consumes,
      admitted: `${full.sizeEnd} keys, ${(fullGrowth / full.sizeEnd).toFixed(0)} B/key`,
      expected: `≤ ${mb(full.sizeEnd * MAX_BYTES_PER_KEY)}`,
      maxLatencyMs: Math.round(full.maxConsumeMs),
      errors: 0,
      dataLost: full.liveFailures.length + (full.victimResetAt === null ? 0 : 1),
      notes: `heap +${mb(fullGrowth)}, peak RSS ${mb(full.rssPeak)}`,
    });
  }, 240_000);

  it('never holds more than maxKeys, and the heap it keeps is what maxKeys entries cost', () => {
    const growth = bounded.heapEnd - bounded.base;
    expect(bounded.maxSize).toBe(BOUNDED);
    expect(bounded.sizeEnd).toBe(BOUNDED);
    expect(bounded.evictions).toBeGreaterThanOrEqual(FLOOD - BOUNDED);
    expect(bounded.bytesPerKey).toBeGreaterThan(0);
    expect(bounded.bytesPerKey).toBeLessThan(MAX_BYTES_PER_KEY);
    expect(growth).toBeLessThan(BOUNDED * MAX_BYTES_PER_KEY);
    expect(growth).toBeLessThan(1.5 * BOUNDED * bounded.bytesPerKey + MB);
    // The same flood into a store that holds it all (a hundred times the keys) costs tens of times
    // as much: the bound held. Not a hundred: the bounded store's tables carry fixed costs.
    expect(full.heapEnd - full.base).toBeGreaterThan(25 * growth);
    expect((full.heapEnd - full.base) / full.sizeEnd).toBeLessThan(MAX_BYTES_PER_KEY);
  });

  it('clients using their budget through the flood keep their counters exactly', () => {
    expect(bounded.liveFailures).toEqual([]);
    expect(full.liveFailures).toEqual([]);
    for (const spent of Object.values(bounded.liveSpent)) expect(spent).toBe(FLOOD / CHECK_EVERY);
  });

  it('a client that spent its budget and keeps knocking is live too: the flood does not hand it a fresh budget', () => {
    // Refused calls must count as use of the bucket; otherwise the blocked client is the least
    // recently used one and the first a flood evicts.
    expect(bounded.victimChecks).toBe(FLOOD / CHECK_EVERY);
    expect(bounded.victimResetAt).toBeNull();
  });
});
