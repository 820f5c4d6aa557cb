import { TollgateError } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, expect } from 'vitest';
import { RedisProcess } from '../helpers/redis.js';

/**
 * A Redis that is dead (killed), paused (SIGSTOP) or unreachable (nothing listens), for tests
 * that every store operation ends within `timeoutMs`. The client is ioredis with its defaults,
 * as an app creates it: it queues commands for a dead Redis for over a minute and for a paused
 * one forever, so only tollgate's bound ends them.
 */

export const TIMEOUT_MS = 300;
/** Generous: a hang is what is tested, not speed (without the bound these waited 20 s and more). */
export const SLACK_MS = 3_000;

export type Condition = 'dead' | 'paused' | 'unreachable';
export const CONDITIONS: Condition[] = ['dead', 'paused', 'unreachable'];

export interface Settled<T> {
  ms: number;
  value?: T;
  error?: Error & { code?: string };
}

/** Registers the cleanups (after each test) and the figures report (after the file). */
export function outageKit() {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const figures: string[] = [];
  afterAll(() => {
    // Reported, not asserted: wall-clock figures on a shared machine are not a test.
    if (figures.length > 0) console.log(`time to settle, timeoutMs ${TIMEOUT_MS}:\n${figures.join('\n')}`);
  });

  /** How long a promise took to settle, and with what; the figure is reported after the file. */
  async function timed<T>(label: string, work: () => Promise<T>): Promise<Settled<T>> {
    const started = performance.now();
    try {
      const value = await work();
      const ms = performance.now() - started;
      figures.push(`${label}: resolved after ${Math.round(ms)} ms`);
      return { ms, value };
    } catch (error) {
      const ms = performance.now() - started;
      const what = (error as { code?: string }).code ?? (error as Error).name;
      figures.push(`${label}: ${what} after ${Math.round(ms)} ms`);
      return { ms, error: error as Error & { code?: string } };
    }
  }

  /** A redis-server of the test's own, stopped (SIGCONT first) after the test. */
  async function server(): Promise<RedisProcess> {
    const started = await RedisProcess.start();
    cleanups.push(() => started.stop());
    return started;
  }

  /** An ioredis client with its defaults, quiet about the outage the test makes, closed after it. */
  function client(url: string, options: { enableOfflineQueue?: boolean } = {}): Redis {
    const made = new Redis(url, options);
    made.on('error', () => {});
    cleanups.push(() => made.disconnect());
    return made;
  }

  /**
   * A client of a Redis in `condition`: one the test started and then killed or paused (the
   * client had connected), or `redis://127.0.0.1:1`. `before` runs while Redis still answers.
   */
  async function outage(condition: Condition, before: (live: Redis) => Promise<void> = async () => {}) {
    if (condition === 'unreachable') return client('redis://127.0.0.1:1');
    const redis = await server();
    const connected = client(redis.url);
    await connected.ping();
    await before(connected);
    if (condition === 'dead') await redis.kill();
    else redis.pause();
    return connected;
  }

  return { cleanups, figures, timed, server, client, outage };
}

/** Settled within `timeoutMs` and generous slack: resolved (`code` undefined) or with that coded error. */
export function expectBounded(result: Settled<unknown>, code: string | undefined): void {
  expect(result.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  if (code === undefined) {
    expect(result.error).toBeUndefined();
  } else {
    expect(result.error).toBeInstanceOf(TollgateError);
    expect(result.error?.code).toBe(code);
  }
}
