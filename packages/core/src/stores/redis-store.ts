import { ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import { consoleLogger, isLogger, type Logger } from '../log.js';
import { assertKnownOptions, assertOptionsObject } from '../options/validate.js';
import { BUCKET_SCRIPT, BUCKET_SCRIPT_SHA } from './redis-script.js';
import type { BucketSpec, Store, StoreResult } from './store.js';

/**
 * The few ioredis methods the store uses. Both ioredis `Redis` and `Cluster` satisfy it, and
 * the type keeps ioredis an optional dependency.
 */
export interface RedisClientLike {
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
}

/** The options of `new RedisStore()`: exactly one of `client` or `url`. */
export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster`; the caller owns it (tollgate never closes it). */
  client?: RedisClientLike;
  /** Or a `redis://` URL: tollgate loads ioredis, connects, and closes it on `close()`. */
  url?: string;
  /**
   * A clock in milliseconds to use instead of the Redis server's `TIME`. Only for tests:
   * with it, app servers whose clocks disagree no longer agree on the buckets.
   */
  now?: () => number;
  /** Where the one-time warning about a server that forbids `TIME` goes. */
  logger?: Logger;
}

const KNOWN = new Set(['client', 'url', 'now', 'logger']);
/** Statuses in which ioredis cannot send a command now; other statuses connect or queue. */
const DOWN = new Set(['reconnecting', 'close', 'end']);

/**
 * Buckets in Redis or Redis Cluster: one Lua script per decision (EVALSHA, and EVAL only when
 * the server answers NOSCRIPT), timed by the server's clock so app servers whose clocks are
 * skewed still agree. Keys expire once their buckets would be full again.
 */
export class RedisStore implements Store {
  private client: RedisClientLike | undefined;
  private connecting: Promise<RedisClientLike> | undefined;
  private readonly url: string | undefined;
  private readonly ownsClient: boolean;
  private readonly now: (() => number) | undefined;
  private readonly logger: Logger;
  private warnedClock = false;

  constructor(options: RedisStoreOptions) {
    const opts = assertOptionsObject(options, 'RedisStore');
    assertKnownOptions(opts, KNOWN, 'RedisStore');
    const { client, url, now, logger } = opts;
    if ((client === undefined) === (url === undefined)) {
      throw new InvalidOptionError(
        'client',
        client,
        'RedisStore needs exactly one of `client` (ioredis Redis or Cluster) or `url`',
      );
    }
    if (client !== undefined && !isRedisClient(client)) {
      throw new InvalidOptionError('client', client, 'accepted: an ioredis Redis or Cluster instance');
    }
    if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
      throw new InvalidOptionError('url', url, "accepted: a 'redis://' or 'rediss://' URL");
    }
    if (now !== undefined && typeof now !== 'function') {
      throw new InvalidOptionError('now', now, 'accepted: a function returning milliseconds');
    }
    if (logger !== undefined && !isLogger(logger)) {
      throw new InvalidOptionError('logger', logger, 'accepted: an object with info, warn and error methods');
    }
    this.client = client as RedisClientLike | undefined;
    this.url = url as string | undefined;
    this.ownsClient = client === undefined;
    this.now = now as (() => number) | undefined;
    this.logger = (logger as Logger | undefined) ?? consoleLogger;
  }

  isAvailable(): boolean {
    return this.client === undefined || !DOWN.has(this.client.status);
  }

  consume(key: string, buckets: readonly BucketSpec[], costs: readonly number[]): Promise<StoreResult> {
    return this.run('c', key, buckets, costs);
  }

  adjust(key: string, buckets: readonly BucketSpec[], deltas: readonly number[]): Promise<StoreResult> {
    return this.run('a', key, buckets, deltas);
  }

  lower(key: string, buckets: readonly BucketSpec[], ceilings: readonly number[]): Promise<StoreResult> {
    return this.run('l', key, buckets, ceilings);
  }

  peek(key: string, buckets: readonly BucketSpec[]): Promise<StoreResult> {
    return this.run('p', key, buckets, undefined);
  }

  async reset(key: string): Promise<void> {
    const client = await this.connect();
    await client.del(key);
  }

  /** The ioredis client, connecting first when the store was given a `url`. */
  getClient(): Promise<RedisClientLike> {
    return this.connect();
  }

  /** Closes the connection if the store opened it from a `url`. */
  async close(): Promise<void> {
    if (this.ownsClient && this.client !== undefined) await this.client.quit();
  }

  private async run(
    mode: 'c' | 'a' | 'l' | 'p',
    key: string,
    buckets: readonly BucketSpec[],
    values: readonly number[] | undefined,
  ): Promise<StoreResult> {
    const client = this.client ?? (await this.connect());
    const args: (string | number)[] = [
      key,
      mode,
      this.now === undefined ? Date.now() : this.now(),
      this.now === undefined ? '1' : '0',
      buckets.length,
    ];
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i] as BucketSpec;
      args.push(b.id, b.capacity, String(b.ratePerMs), String(values?.[i] ?? 0));
    }
    let reply: unknown;
    try {
      reply = await client.evalsha(BUCKET_SCRIPT_SHA, 1, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      reply = await client.eval(BUCKET_SCRIPT, 1, ...args);
    }
    return this.parse(reply, buckets.length);
  }

  private parse(reply: unknown, n: number): StoreResult {
    if (!Array.isArray(reply) || reply.length !== n + 2) {
      throw new TollgateError(ErrorCodes.STORE_PROTOCOL, 'Unexpected reply from the tollgate Redis script');
    }
    if (reply[1] === 0 && this.now === undefined && !this.warnedClock) {
      this.warnedClock = true;
      this.logger.warn({}, 'Redis refused TIME in scripts; falling back to app-server clocks, which must agree');
    }
    const tokens = new Array<number>(n);
    for (let i = 0; i < n; i++) tokens[i] = Number.parseFloat(reply[i + 2] as string);
    return { allowed: reply[0] === 1, tokens };
  }

  private connect(): Promise<RedisClientLike> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    this.connecting ??= import('ioredis').then((mod) => {
      const client = new mod.Redis(this.url as string) as unknown as RedisClientLike;
      this.client = client;
      return client;
    });
    return this.connecting;
  }
}

function isRedisClient(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.evalsha === 'function' && typeof v.eval === 'function' && typeof v.del === 'function';
}
