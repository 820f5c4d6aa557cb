import { ErrorCodes, TollgateError } from '../../errors.js';
import type { RedisConnection } from './connection.js';
import { type GlideClientLike, glideConnection, isGlide } from './glide.js';
import { type IoredisClientLike, ioredisConnection, isIoredis } from './ioredis.js';
import {
  isNodeRedisClient,
  isNodeRedisCluster,
  type NodeRedisClientLike,
  type NodeRedisClusterLike,
  nodeRedisConnection,
} from './node-redis.js';

export type { RedisConnection } from './connection.js';
export { hashReply } from './connection.js';
export type { GlideClientLike } from './glide.js';
export type { IoredisClientLike, RedisNodeLike } from './ioredis.js';
export type { NodeRedisClientLike, NodeRedisClusterLike } from './node-redis.js';
export { isNoScript, type RedisScript, runScript } from './run-script.js';

/** Every Redis client tollgate accepts: ioredis, node-redis (client or cluster), Valkey GLIDE (client or cluster). */
export type RedisClientLike = IoredisClientLike | NodeRedisClientLike | NodeRedisClusterLike | GlideClientLike;

/** One adapter per client, so every store, ledger and budget store on a client shares it (and its reset subscription). */
const adapters = new WeakMap<object, RedisConnection>();

/** The adapter for `client`, chosen by its shape (never `instanceof`: the libraries stay optional); undefined if none fits. */
export function redisConnection(client: unknown): RedisConnection | undefined {
  if (typeof client !== 'object' || client === null) return undefined;
  let connection = adapters.get(client);
  if (connection === undefined) {
    connection = adapt(client);
    if (connection !== undefined) adapters.set(client, connection);
  }
  return connection;
}

function adapt(client: object): RedisConnection | undefined {
  if (isRedisConnection(client)) return client;
  // GLIDE first: only it has customCommand. ioredis next: only it has a string `status`.
  if (isGlide(client)) return glideConnection(client);
  if (isIoredis(client)) return ioredisConnection(client);
  if (isNodeRedisCluster(client) || isNodeRedisClient(client)) return nodeRedisConnection(client);
  return undefined;
}

/** A `RedisConnection` written by the app for another client: used as it is. */
function isRedisConnection(value: object): value is RedisConnection {
  const v = value as Record<string, unknown>;
  return (
    typeof v.family === 'string' &&
    typeof v.state === 'function' &&
    typeof v.evalsha === 'function' &&
    typeof v.eval === 'function' &&
    typeof v.hgetall === 'function'
  );
}

/** The connection for a client that was accepted before (by RedisStore); a coded error if it is no Redis client. */
export function connectionOf(client: unknown): RedisConnection {
  const connection = redisConnection(client);
  if (connection === undefined) {
    throw new TollgateError(
      ErrorCodes.STORE_UNAVAILABLE,
      'Not a Redis client tollgate knows (see docs/redis-clients.md)',
    );
  }
  return connection;
}
