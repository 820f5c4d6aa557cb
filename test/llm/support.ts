import Anthropic from '@anthropic-ai/sdk';
import { type Logger, MemoryStore } from '@tollgate/core';
import { ClaudeRateLimiter, type ClaudeRateLimiterOptions } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';

/** A logger that keeps what it is told, so tests stay quiet and can check the lines. */
export function collectingLogger(): { lines: { level: string; message: string; fields: object }[]; logger: Logger } {
  const lines: { level: string; message: string; fields: object }[] = [];
  const at = (level: string) => (fields: object, message: string) => lines.push({ level, message, fields });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

/** The official SDK pointed at a fake server; `run` owns retries, so the SDK's are off. */
export function sdk(baseURL: string): Anthropic {
  return new Anthropic({ apiKey: 'test', baseURL, maxRetries: 0 });
}

export interface Backend {
  readonly name: 'memory' | 'redis';
  /** Whether the backend can run here (Redis needs a server). */
  readonly available: boolean;
  /** A limiter on this backend, with a fresh prefix (Redis) or a fresh store (memory). */
  make(options?: Omit<ClaudeRateLimiterOptions, 'redis' | 'store'>): ClaudeRateLimiter;
  close(): Promise<void>;
}

/** The two places a ClaudeRateLimiter keeps its buckets and ledger: memory and a real Redis. */
export function backends(): Backend[] {
  let client: Redis | undefined;
  const stores: MemoryStore[] = [];
  return [
    {
      name: 'memory',
      available: true,
      make(options = {}) {
        const store = new MemoryStore();
        stores.push(store);
        return new ClaudeRateLimiter({ logger: collectingLogger().logger, ...options, store });
      },
      async close() {
        for (const s of stores.splice(0)) s.close();
      },
    },
    {
      name: 'redis',
      available: redis.server,
      make(options = {}) {
        client ??= new Redis(REDIS_URL);
        return new ClaudeRateLimiter({
          logger: collectingLogger().logger,
          prefix: uniquePrefix('llm'),
          ...options,
          redis: client,
        });
      },
      async close() {
        await client?.quit();
        client = undefined;
      },
    },
  ];
}

/** A Messages API request as an app would send it. */
export function params(model = 'claude-sonnet-4-6', maxTokens = 256, text = 'Say hello.') {
  return { model, max_tokens: maxTokens, messages: [{ role: 'user' as const, content: text }] };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

export const today = (): string => new Date().toISOString().slice(0, 10);
