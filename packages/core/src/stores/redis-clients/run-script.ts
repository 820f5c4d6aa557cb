import type { RedisConnection } from './connection.js';

/** A Lua script and its SHA-1, as the server caches it. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

/**
 * Runs a script the one way every tollgate script runs (buckets, the usage ledger, budgets):
 * EVALSHA, and EVAL once only when the server answers NOSCRIPT (a restart, a SCRIPT FLUSH, a
 * failover to a replica that never saw it). Every other error passes as it is.
 */
export async function runScript(
  connection: Pick<RedisConnection, 'evalsha' | 'eval'>,
  script: RedisScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  try {
    return await connection.evalsha(script.sha, keys, args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return connection.eval(script.source, keys, args);
  }
}

/** NOSCRIPT as each client words it: the server's `NOSCRIPT …` (ioredis, node-redis), or GLIDE's `NoScriptError`. */
export function isNoScript(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.message.startsWith('NOSCRIPT') || error.message.includes('NoScriptError');
}
