import type { RedisClientLike } from '@tollgate/core';
import { type BucketStatus, ClaudeRateLimiter, type FamilyLimits, type FamilyStatus } from '@tollgate/llm';
import type { Client } from './connect.js';
import { CliError, EXIT_USAGE } from './errors.js';
import { count, duration, table } from './table.js';

/** `tollgate claude status|reset <model>`: a Claude model family's shared buckets. */
export interface ClaudeCommand {
  readonly action: 'status' | 'reset';
  readonly model: string;
  /** The limits the app gave for the family (its bucket fields are named by them); unset: the defaults. */
  readonly limits: FamilyLimits | undefined;
}

/**
 * A ClaudeRateLimiter on the fleet's Redis, as the app's: same prefix, the family's limits,
 * every store call bounded by --timeout. Its constructor checks the prefix and the limits, so a
 * bad one is a usage error before anything connects (call with `client` undefined for that).
 */
function limiter(client: Client | undefined, prefix: string, command: ClaudeCommand, timeoutMs: number) {
  try {
    return new ClaudeRateLimiter({
      ...(client === undefined ? {} : { redis: client as unknown as RedisClientLike }),
      prefix,
      timeoutMs,
      failMode: 'closed', // an operator asks the store, never a stand-in
      circuit: false,
      ...(command.limits === undefined ? {} : { limits: { '*': command.limits } }),
    } as ConstructorParameters<typeof ClaudeRateLimiter>[0]);
  } catch (error) {
    throw new CliError((error as Error).message.replace(/^tollgate: /, ''), EXIT_USAGE);
  }
}

/** Checks the command offline: the prefix, the limits and the model id. */
export async function validateClaude(command: ClaudeCommand, prefix: string): Promise<void> {
  const claude = limiter(undefined, prefix, command, 1000);
  // A model id the limiter refuses (the status of an in-memory limiter answers nothing else).
  await claude.status(command.model).catch((error: Error) => {
    throw new CliError(error.message.replace(/^tollgate: /, ''), EXIT_USAGE);
  });
}

export async function claudeFamily(
  client: Client,
  prefix: string,
  command: ClaudeCommand,
  timeoutMs: number,
): Promise<FamilyStatus | { model: string; reset: true }> {
  const claude = limiter(client, prefix, command, timeoutMs);
  if (command.action === 'reset') {
    await claude.reset(command.model);
    return { model: command.model, reset: true };
  }
  return claude.status(command.model);
}

export function formatClaude(result: FamilyStatus | { model: string; reset: true }, prefix: string): string {
  if ('reset' in result) return `Reset the buckets of ${result.model}'s family (prefix "${prefix}").\n`;
  const row = (name: string, b: BucketStatus) => [
    name,
    count(b.limit),
    count(b.capacity),
    count(b.remaining),
    b.resetMs === 0 ? 'full' : duration(b.resetMs),
  ];
  return `Family "${result.family}" of ${result.model} (prefix "${prefix}")\n${table(
    ['limit', 'per minute', 'size', 'left', 'full in'],
    [row('requests', result.rpm), row('input tokens', result.itpm), row('output tokens', result.otpm)],
    new Set([1, 2, 3]),
  )}\n`;
}
