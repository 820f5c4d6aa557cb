import type { RedisSubscriberLike } from '../reset-channel.js';
import type { RedisConnection } from './connection.js';

/**
 * The few ioredis methods tollgate uses. Both ioredis `Redis` and `Cluster` satisfy it, and the
 * type keeps ioredis an optional dependency.
 */
export interface IoredisClientLike {
  readonly status: string;
  /** Runs a cached Lua script by its SHA-1. */
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** Runs a Lua script, sent in full (after a `NOSCRIPT` reply). */
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** Deletes keys (`reset`). */
  del(...keys: string[]): Promise<number>;
  /** Reads a hash (the Claude usage ledger). */
  hgetall(key: string): Promise<Record<string, string>>;
  /** Closes the connection. */
  quit(): Promise<unknown>;
  /** Closes the connection at once, when `quit` gets no answer in time. */
  disconnect?(): void;
  /** Announces a reset to other processes' denial caches. Without it, resets are not announced. */
  publish?(channel: string, message: string): Promise<unknown>;
  /** A second connection like this one, for the reset subscription. Without it, no denial cache. */
  duplicate?(): RedisSubscriberLike;
  /** Tells the store when the caller closed the client, so the store closes its duplicate too. */
  once?(event: 'end', listener: () => void): unknown;
  /** Removes that listener when the store closes first. */
  off?(event: 'end', listener: () => void): unknown;
  /** The options it was made with: only `enableAutoPipelining` is read. */
  readonly options?: { readonly enableAutoPipelining?: boolean | undefined };
  /** An explicit pipeline, written at `exec()` (a client that auto-pipelines waits a turn otherwise). */
  pipeline?(): {
    /** Queues one EVALSHA in the pipeline. */
    evalsha(sha: string, numKeys: number, ...args: (string | number)[]): unknown;
    /** Sends the queued commands; one `[error, reply]` per command. */
    exec(): Promise<[Error | null, unknown][] | null>;
  };
  /** True on an ioredis `Cluster`. */
  readonly isCluster?: boolean;
  /** A Cluster's node connections; one of them carries the reset subscription. */
  nodes?(role: 'all'): RedisNodeLike[];
}

/** One node of an ioredis `Cluster`, as `cluster.nodes()` lists it. */
export interface RedisNodeLike {
  /** A plain connection to this node alone. */
  duplicate(): RedisSubscriberLike;
}

/** Statuses in which ioredis cannot send a command now; other statuses connect or queue. */
const DOWN = new Set(['reconnecting', 'close']);

/** An ioredis `Redis` or `Cluster` (or anything with its `status`, `evalsha`, `eval` and `del`). */
export function isIoredis(value: object): value is IoredisClientLike {
  const v = value as Record<string, unknown>;
  return (
    typeof v.status === 'string' &&
    typeof v.evalsha === 'function' &&
    typeof v.eval === 'function' &&
    typeof v.del === 'function'
  );
}

export function ioredisConnection(client: IoredisClientLike): RedisConnection {
  const subscriber =
    client.duplicate === undefined && client.nodes === undefined ? undefined : () => subscriberFor(client);
  const pipelines = client.options?.enableAutoPipelining === true && typeof client.pipeline === 'function';
  return {
    family: 'ioredis',
    cluster: client.isCluster === true,
    evalsha: (sha, keys, args) => client.evalsha(sha, keys.length, ...keys, ...args),
    ...(pipelines ? { evalshaNow: (sha, keys, args) => evalshaNow(client, sha, keys, args) } : {}),
    eval: (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
    del: (key) => client.del(key),
    hgetall: (key) => client.hgetall(key),
    publish: async (channel, message) => {
      await client.publish?.(channel, message);
    },
    state: () => (client.status === 'end' ? 'ended' : DOWN.has(client.status) ? 'down' : 'ready'),
    ...(subscriber === undefined ? {} : { subscriber }),
    onEnd: (listener) => {
      client.once?.('end', listener);
      return () => client.off?.('end', listener);
    },
    quit: async () => {
      await client.quit();
    },
    disconnect: () => client.disconnect?.(),
  };
}

/** EVALSHA through an explicit pipeline of one command, which ioredis writes at `exec()`. */
async function evalshaNow(
  client: IoredisClientLike,
  sha: string,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  const pipeline = (client.pipeline as NonNullable<IoredisClientLike['pipeline']>).call(client);
  pipeline.evalsha(sha, keys.length, ...keys, ...args);
  const [reply] = (await pipeline.exec()) ?? [];
  if (reply === undefined) throw new Error('ioredis returned no reply for the pipeline');
  if (reply[0] !== null) throw reply[0];
  return reply[1];
}

/**
 * The connection that carries the reset subscription. A Cluster's own subscriber moves to another
 * node when its node fails without telling anyone, so a lost subscription would go unnoticed:
 * one node's plain connection is used instead, whose loss is seen (and a classic PUBLISH reaches
 * every node of a cluster).
 */
function subscriberFor(client: IoredisClientLike): RedisSubscriberLike {
  const nodes = client.isCluster === true ? (client.nodes?.('all') ?? []) : [];
  const node = nodes[Math.floor(Math.random() * nodes.length)];
  if (node !== undefined) return node.duplicate();
  return (client.duplicate as () => RedisSubscriberLike).call(client);
}
