import type { RedisConnection } from '@tollgate/core';

/** A Lua script and its SHA-1, as the server caches it. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

/**
 * Runs a script as every tollgate script runs (core's buckets too): EVALSHA, and EVAL once only
 * when the server answers NOSCRIPT. Every other error passes as it is. (Core's runner is not
 * exported; this is its twin until it is.)
 */
export async function runScript(
  connection: RedisConnection,
  script: RedisScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  try {
    return await connection.evalsha(script.sha, keys, args);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    // NOSCRIPT as each client words it: the server's `NOSCRIPT …`, or GLIDE's `NoScriptError`.
    if (!error.message.startsWith('NOSCRIPT') && !error.message.includes('NoScriptError')) throw error;
    return connection.eval(script.source, keys, args);
  }
}
