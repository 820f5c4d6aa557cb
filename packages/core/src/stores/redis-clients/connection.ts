import type { RedisSubscriberLike } from '../reset-channel.js';

/**
 * What tollgate needs of a Redis client, whichever library made it. `RedisStore`, the Claude
 * usage ledger and the budgets speak only this; one adapter per client family (ioredis,
 * node-redis, Valkey GLIDE) translates it, and `redisConnection()` picks the adapter by the
 * client's shape. To support another client, write one more adapter: see docs/redis-clients.md.
 *
 * Replies are what Redis sent: integers as numbers, bulk strings as strings, arrays as arrays,
 * nil as null. On a cluster, commands are routed by their first key.
 */
export interface RedisConnection {
  /** The client family, for log lines: `'ioredis'`, `'node-redis'`, `'valkey-glide'`. */
  readonly family: string;
  /**
   * False when every key lives on one server, so decisions over any keys can share one script
   * call; true (or absent: not known) for a cluster, where they share a call only within a slot.
   */
  readonly cluster?: boolean;
  /** EVALSHA: runs a script the server has cached. Rejects with a `NOSCRIPT` error if it has not. */
  evalsha(sha: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /**
   * EVALSHA written to the server at once, for a caller that has gathered its work already (the
   * coalesced decisions, sent at the end of a turn of the event loop): a client that auto-pipelines
   * would otherwise hold it for one more turn. Absent: `evalsha` is used.
   */
  evalshaNow?(sha: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /** EVAL: runs a script sent in full (after a NOSCRIPT reply; the server then caches it). */
  eval(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /** DEL of one key: how many keys were deleted (0 or 1). */
  del(key: string): Promise<number>;
  /** HGETALL: the hash as field → value (empty when there is no key). */
  hgetall(key: string): Promise<Record<string, string>>;
  /** PUBLISH a message (a reset, to other processes' denial caches). */
  publish(channel: string, message: string): Promise<void>;
  /**
   * `'ready'`: commands go out (or wait for a connection being made); `'down'`: the client knows
   * it cannot send now (reconnecting); `'ended'`: its owner closed it.
   */
  state(): 'ready' | 'down' | 'ended';
  /**
   * Opens a new connection for the reset subscription, whose loss it reports (`close`). Absent
   * when the family cannot give one: then the store keeps no denial cache.
   */
  subscriber?(): RedisSubscriberLike;
  /** Calls `listener` once when the client's owner closes it; returns what removes the listener. */
  onEnd?(listener: () => void): () => void;
  /** Closes politely (QUIT or its like); for clients the store opened itself. */
  quit(): Promise<void>;
  /** Closes at once. */
  disconnect(): void;
}

/** A hash as any client returns it (RESP2 flat array, RESP3 map, an object, GLIDE's records) → field → value. */
export function hashReply(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (reply === null || reply === undefined) return out;
  if (reply instanceof Map) {
    for (const [field, value] of reply) out[String(field)] = String(value);
  } else if (Array.isArray(reply)) {
    if (reply.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))) {
      // GLIDE: [{ key | field, value }, …]
      for (const item of reply as { key?: unknown; field?: unknown; value?: unknown }[]) {
        out[String(item.key ?? item.field)] = String(item.value);
      }
    } else {
      for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
    }
  } else if (typeof reply === 'object') {
    for (const [field, value] of Object.entries(reply)) out[field] = String(value);
  }
  return out;
}
