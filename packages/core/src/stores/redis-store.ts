import { ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import { covers, msUntil, refill } from '../limiter/bucket.js';
import { consoleLogger, isLogger, type Logger } from '../log.js';
import { assertKnownOptions, assertOptionsObject, positiveInteger, timerMs } from '../options/validate.js';
import { withDeadline } from './deadline.js';
import { DenialCache } from './denial-cache.js';
import { luaNumber } from './lua-number.js';
import { batcherOf } from './redis-batch.js';
import { type RedisClientLike, type RedisConnection, redisConnection, runScript } from './redis-clients/index.js';
import { BUCKET_SCRIPT, BUCKET_SCRIPT_SHA } from './redis-script.js';
import { redisTrouble } from './redis-trouble.js';
import { RESET_CHANNEL, type RedisSubscriberLike, type ResetChannel } from './reset-channel.js';
import { ServerClock } from './server-clock.js';
import { joinResets, type ResetListener } from './shared-resets.js';
import type { BucketSpec, Store, StoreResult } from './store.js';
import { Throttle } from './throttle.js';
import { tokensAt } from './tokens-at.js';

export type {
  GlideClientLike,
  IoredisClientLike,
  NodeRedisClientLike,
  NodeRedisClusterLike,
  RedisClientLike,
  RedisConnection,
  RedisNodeLike,
} from './redis-clients/index.js';

/** The options of the denial cache; see `RedisStoreOptions.denialCache`. */
export interface DenialCacheOptions {
  /** Most refused keys remembered at once (default 10,000); the oldest are dropped first. */
  maxKeys?: number;
}

/** The options of `new RedisStore()`: exactly one of `client` or `url`. */
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster`, a node-redis client or cluster (connected), a Valkey GLIDE
   * client (standalone or cluster), or a `RedisConnection` of your own (docs/redis-clients.md).
   * The caller owns it: tollgate never closes it.
   */
  client?: RedisClientLike | RedisConnection;
  /** Or a `redis://` URL: tollgate loads ioredis, connects, and closes it on `close()`. */
  url?: string;
  /**
   * A clock in milliseconds to use instead of the Redis server's `TIME`. Only for tests:
   * with it, app servers whose clocks disagree no longer agree on the buckets.
   */
  now?: () => number;
  /** Where the one-time warning about a server that forbids `TIME` goes. */
  logger?: Logger;
  /**
   * Answers a refused key from memory until Redis would surely refuse it no more, so a flood
   * from one client costs no round trips (default on; `false` turns it off). Resets reach it over
   * Redis Pub/Sub, on one extra connection the store opens the first time it caches a refusal.
   */
  denialCache?: DenialCacheOptions | boolean;
  /**
   * The longest any call of this store waits for Redis, in whole ms (default 1000): then it
   * rejects with a `STORE_TIMEOUT` error, whether Redis is down, unreachable or hung. A limiter's
   * own `timeoutMs` (default 500) applies on top of it; this one bounds direct calls (`reset`,
   * `peek`, `adjust`, `close`, …) too. A client's failure rejects with `STORE_UNAVAILABLE`.
   */
  timeoutMs?: number;
  /**
   * Coalesces consumes (default on): those made in one turn of the event loop on one client go to
   * Redis as one script call per group of up to 64 (on a Cluster, per hash slot), each decision
   * still atomic and exact; a lone one goes out at once, as its own call. `false` sends one script
   * call per decision. See docs/redis.md.
   */
  coalesce?: boolean;
}

/** A kind of trouble (a connection failing, Pub/Sub refused) is logged at most once in this long. */
const LOG_INTERVAL_MS = 30_000;
/** The default of `timeoutMs`. */
const DEFAULT_TIMEOUT_MS = 1000;
const KNOWN = new Set(['client', 'url', 'now', 'logger', 'denialCache', 'timeoutMs', 'coalesce']);
const ACCEPTED_CLIENTS =
  'accepted: an ioredis Redis or Cluster, a node-redis client or cluster, a Valkey GLIDE client, or a RedisConnection';
/** Connections whose store said once that they carry no denial cache. */
const toldNoDenialCache = new WeakSet<RedisConnection>();

type Mode = 'c' | 'a' | 'l' | 'p';

/** The bucket script, as the one script runner takes it. */
const BUCKET = { source: BUCKET_SCRIPT, sha: BUCKET_SCRIPT_SHA } as const;

/** What a script call sends besides the clock, built once per bucket list. */
interface Encoded {
  readonly spec: string;
  /** Capacity and rate per bucket, as Lua reads them exactly. */
  readonly pairs: readonly string[];
}

/** The limiter's part of a store key, before the client's. */
const LIMITER_PART = /^[^:]+:(?:n:[^:]+:|p:)[^:]+:/;
/**
 * Buckets in Redis or Redis Cluster: one Lua script per decision (EVALSHA, and EVAL only when
 * the server answers NOSCRIPT), timed by the server's clock so app servers whose clocks are
 * skewed still agree. The clock is read (TIME) by one call a second; the others send this
 * process's estimate of it, which is never ahead of the server. Keys expire once their buckets
 * would be full again (and at most a minute later).
 */
export class RedisStore implements Store {
  /** The Pub/Sub channel on which resets announce the Redis key they deleted (the CLI's too). */
  static readonly resetChannel = RESET_CHANNEL;
  /** The longest any call of this store waits for Redis (the `timeoutMs` option). */
  readonly timeoutMs: number;
  /** The client as given (or opened from `url`), and the adapter tollgate speaks to it through. */
  private client: RedisClientLike | RedisConnection | undefined;
  private conn: RedisConnection | undefined;
  private connecting: Promise<RedisConnection> | undefined;
  private readonly url: string | undefined;
  private readonly ownsClient: boolean;
  private readonly now: (() => number) | undefined;
  private readonly logger: Logger;
  private readonly clock = new ServerClock();
  private readonly throttle = new Throttle(LOG_INTERVAL_MS);
  private readonly encoded = new WeakMap<readonly BucketSpec[], Encoded>();
  private readonly denials: DenialCache | undefined;
  private readonly coalesce: boolean;
  /** The reset subscription, shared with every store on the same client. */
  private resets: ResetChannel | undefined;
  private leaveResets: (() => void) | undefined;
  private resetListener: ResetListener | undefined;
  private appClock = false;
  private corrupt = 0;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    const opts = assertOptionsObject(options, 'RedisStore');
    assertKnownOptions(opts, KNOWN, 'RedisStore');
    const { client, url, now, logger, denialCache, timeoutMs, coalesce } = opts;
    if ((client === undefined) === (url === undefined)) {
      throw new InvalidOptionError(
        'client',
        client,
        'RedisStore needs exactly one of `client` (a Redis client) or `url`',
      );
    }
    const conn = client === undefined ? undefined : redisConnection(client);
    if (client !== undefined && conn === undefined) {
      throw new InvalidOptionError('client', client, ACCEPTED_CLIENTS);
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
    this.client = client as RedisClientLike | RedisConnection | undefined;
    this.conn = conn;
    this.url = url as string | undefined;
    this.ownsClient = client === undefined;
    this.now = now as (() => number) | undefined;
    this.logger = (logger as Logger | undefined) ?? consoleLogger;
    this.denials = parseDenialCache(denialCache);
    this.timeoutMs = timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : timerMs(timeoutMs, 'timeoutMs');
    if (coalesce !== undefined && typeof coalesce !== 'boolean') {
      throw new InvalidOptionError('coalesce', coalesce, 'accepted: true or false');
    }
    this.coalesce = coalesce !== false;
  }

  /**
   * How many stored values this store found that it could not decode (NaN doubles, an impossible
   * time, a value of another type): each was deleted and taken as full buckets.
   */
  get corruptBuckets(): number {
    return this.corrupt;
  }

  /** Refused keys answered from memory now (see `denialCache`). */
  get cachedRefusals(): number {
    return this.denials?.size ?? 0;
  }

  isAvailable(): boolean {
    return this.conn === undefined || this.conn.state() === 'ready';
  }

  consume(key: string, buckets: readonly BucketSpec[], costs: readonly number[]): StoreResult | Promise<StoreResult> {
    if (this.denials !== undefined && this.resets?.ready === true && this.denials.size > 0) {
      const local = this.clock.local();
      const latest = this.now?.() ?? (this.appClock ? Date.now() : this.clock.upperBound(local));
      const earliest = this.now?.() ?? (this.appClock ? Date.now() : this.refusalTime(local, Number.POSITIVE_INFINITY));
      const cached = this.denials.lookup(key, buckets, costs, latest, earliest, local);
      if (cached !== undefined) return cached;
    }
    return this.bounded(this.run('c', key, buckets, costs), 'RedisStore.consume');
  }

  adjust(key: string, buckets: readonly BucketSpec[], deltas: readonly number[]): Promise<StoreResult> {
    return this.bounded(this.run('a', key, buckets, deltas), 'RedisStore.adjust');
  }

  lower(key: string, buckets: readonly BucketSpec[], ceilings: readonly number[]): Promise<StoreResult> {
    return this.bounded(this.run('l', key, buckets, ceilings), 'RedisStore.lower');
  }

  peek(key: string, buckets: readonly BucketSpec[]): Promise<StoreResult> {
    return this.bounded(this.run('p', key, buckets, undefined), 'RedisStore.peek');
  }

  /** Deletes the key, then announces it, so every store's denial cache forgets the key. */
  reset(key: string): Promise<void> {
    return this.bounded(this.deleteAndAnnounce(key), 'RedisStore.reset');
  }

  private async deleteAndAnnounce(key: string): Promise<void> {
    const conn = await this.connect();
    // A refusal already on its way back describes the bucket before the deletion: not kept.
    this.resets?.invalidate();
    this.denials?.delete(key);
    // Consumes made before this reset are decided before it.
    if (this.coalesce) batcherOf(conn).flushNow();
    await conn.del(key);
    this.denials?.delete(key);
    await announceReset(conn, key);
  }

  /** The client as given (or the ioredis client opened from `url`, connecting first). */
  getClient(): Promise<RedisClientLike | RedisConnection> {
    return this.bounded(
      this.connect().then(() => this.client as RedisClientLike | RedisConnection),
      'RedisStore.getClient',
    );
  }

  /**
   * The client-neutral connection the store speaks through (connecting first when given a `url`):
   * what the usage ledger and budgets use to share this store's Redis.
   */
  connection(): Promise<RedisConnection> {
    return this.bounded(this.connect(), 'RedisStore.connection');
  }

  /**
   * Closes the store's own connections: the reset subscriber (always), and the client if the
   * store opened it from a `url`: politely (QUIT) if Redis answers within `timeoutMs`, else at
   * once, so a close never waits on a Redis that is gone.
   */
  async close(): Promise<void> {
    this.closed = true;
    // Consumes still waiting for their turn go out before QUIT, as they would have uncoalesced.
    if (this.conn !== undefined && this.coalesce) batcherOf(this.conn).flushNow();
    this.leaveResets?.();
    this.denials?.clear();
    if (!this.ownsClient) return;
    const conn = this.conn ?? (await this.connecting?.catch(() => undefined));
    if (conn === undefined) return;
    if (conn.state() !== 'ready') {
      // Nothing to say goodbye to: reconnection attempts stop here.
      conn.disconnect();
      return;
    }
    try {
      await withDeadline(conn.quit(), this.timeoutMs, 'RedisStore.close');
    } catch {
      // QUIT got no answer: the connection is dropped below all the same.
    } finally {
      conn.disconnect();
    }
  }

  /** Every call of the store ends within `timeoutMs`, with a coded error if Redis fails it. */
  private bounded<T>(work: Promise<T>, operation: string): Promise<T> {
    return withDeadline(work, this.timeoutMs, operation);
  }

  private async run(
    mode: Mode,
    key: string,
    buckets: readonly BucketSpec[],
    values: readonly number[] | undefined,
  ): Promise<StoreResult> {
    const conn = this.conn ?? (await this.connect());
    const sentAt = this.clock.local();
    const generation = this.resets?.generation;
    const timed = this.now === undefined && !this.appClock && this.clock.takeSync(sentAt);
    const args = this.args(mode, buckets, values, timed, sentAt);
    // A consume is coalesced with others; one that reads the server's TIME goes alone, so TIME
    // never follows another decision's write in one script. Whatever goes alone goes after the
    // consumes made before it, so the commands of one process reach Redis in the order made.
    let reply: unknown;
    if (!this.coalesce) reply = await runScript(conn, BUCKET, [key], args);
    else if (mode === 'c' && !timed) reply = await batcherOf(conn).submit(key, args);
    else {
      batcherOf(conn).flushNow();
      reply = await runScript(conn, BUCKET, [key], args);
    }
    if (Array.isArray(reply) && reply[0] === -1) {
      // The server forbids TIME in scripts: from now on the app servers' clocks decide.
      if (!this.appClock) {
        this.appClock = true;
        this.logger.warn({}, 'Redis refused TIME in scripts; falling back to app-server clocks, which must agree');
      }
      return this.run(mode, key, buckets, values);
    }
    if (Array.isArray(reply) && reply[0] === 2 && reply.length === 2) {
      this.corruptValue(key);
      reply = reply[1];
    }
    const result = this.parse(reply, mode, buckets, values, key, sentAt, generation);
    if (mode !== 'p' && mode !== 'l' && result.allowed && values?.some((v) => v < 0)) {
      // Tokens were given back: other stores' cached refusals of this key may no longer hold.
      // The refund itself is done: a failed announcement is logged, never thrown at the caller.
      announceReset(conn, key).catch((error: unknown) => this.subscriberTrouble(error));
    }
    return result;
  }

  /** The script's arguments after its key: the clock, the bucket ids, then each bucket's numbers. */
  private args(
    mode: Mode,
    buckets: readonly BucketSpec[],
    values: readonly number[] | undefined,
    timed: boolean,
    local: number,
  ): string[] {
    let clock: string;
    if (this.now !== undefined) clock = String(this.now());
    else if (this.appClock) clock = String(Date.now());
    else if (timed) clock = 't';
    else {
      // The estimate, never ahead of the server, and how far ahead the server can be: the script
      // stamps a bucket that is new or full with the latter (see redis-script.ts).
      const lower = this.clock.lowerBound(local);
      clock = `${lower}+${Math.max(0, Math.ceil(this.clock.upperBound(local)) - lower)}`;
    }
    if (mode !== 'c') clock = mode + clock;
    const encoded = this.encode(buckets);
    const args = [clock, encoded.spec];
    // One bucket consuming one token, the common case, leaves the value out.
    if (buckets.length === 1 && mode === 'c' && values?.[0] === 1) {
      args.push(encoded.pairs[0] as string, encoded.pairs[1] as string);
      return args;
    }
    for (let i = 0; i < buckets.length; i++) {
      args.push(encoded.pairs[2 * i] as string, encoded.pairs[2 * i + 1] as string, luaNumber(values?.[i] ?? 0));
    }
    return args;
  }

  private encode(buckets: readonly BucketSpec[]): Encoded {
    let encoded = this.encoded.get(buckets);
    if (encoded === undefined) {
      const pairs: string[] = [];
      for (const b of buckets) {
        if (b.id.length === 0 || b.id.includes(',')) {
          throw new InvalidOptionError('id', b.id, 'a bucket id must be non-empty and contain no ","');
        }
        pairs.push(luaNumber(b.capacity), luaNumber(b.ratePerMs));
      }
      encoded = { spec: buckets.map((b) => b.id).join(','), pairs };
      this.encoded.set(buckets, encoded);
    }
    return encoded;
  }

  /**
   * Replies: a number or a string of numbers (the tokens after a write, the common case), or
   * `[kind, TIME or -1, now, since, …values]` where kind 1 is a write (values are the tokens) and
   * 0 is none (values are the tokens at `since`, refilled here by bucket.ts).
   */
  private parse(
    reply: unknown,
    mode: Mode,
    buckets: readonly BucketSpec[],
    values: readonly number[] | undefined,
    key: string,
    sentAt: number,
    generation: number | undefined,
  ): StoreResult {
    const n = buckets.length;
    if (typeof reply === 'number' && n === 1) {
      this.forget(key);
      return { allowed: true, tokens: [reply] };
    }
    if (typeof reply === 'string') {
      const tokens = reply.split(' ').map(Number);
      if (tokens.length === n && tokens.every((t) => !Number.isNaN(t))) {
        this.forget(key);
        return { allowed: true, tokens };
      }
    }
    if (!Array.isArray(reply) || reply.length !== n + 4 || (reply[0] !== 0 && reply[0] !== 1)) throw protocolError();
    const [kind, timed, now, since] = reply as [number, number, number, number];
    const numbers = (reply as unknown[]).slice(4).map(Number);
    if (typeof now !== 'number' || typeof since !== 'number' || numbers.some(Number.isNaN)) throw protocolError();
    const receivedAt = this.clock.local();
    if (timed !== -1) this.clock.sample(sentAt, receivedAt, timed);
    if (kind === 1) {
      this.forget(key);
      return { allowed: true, tokens: numbers };
    }
    if (mode === 'p') {
      const tokens = numbers.map((held, i) => {
        const b = buckets[i] as BucketSpec;
        return refill(held, since, now, b.capacity, b.ratePerMs);
      });
      return { allowed: true, tokens };
    }
    // A refusal's tokens, and so the wait the caller is told, count from the earliest the
    // server's clock can be now (see refusalTime), so a caller that waits it is admitted.
    // With a given clock (`now`, or the app servers'), times are exact: nothing to allow for.
    // A bucket that could pay at the server's own time needs no wait: its exact tokens are kept,
    // so it is not reported as refusing (only the buckets that refused wait for the margin).
    const at = this.now !== undefined || this.appClock ? now : this.refusalTime(receivedAt, now);
    const tokens = numbers.map((held, i) => {
      const b = buckets[i] as BucketSpec;
      const exact = refill(held, since, now, b.capacity, b.ratePerMs);
      return covers(exact, values?.[i] ?? 0) ? exact : tokensAt(held, since, at, b);
    });
    this.remember(key, buckets, values ?? [], since, numbers, tokens, receivedAt, generation);
    return { allowed: false, tokens };
  }

  /**
   * Logs that resets cannot be announced or heard (the denial cache then stays off), saying
   * whether the connection was lost or an ACL refused Pub/Sub: each kind at most once in
   * LOG_INTERVAL_MS, so an ACL problem that follows a restart is logged all the same.
   */
  private subscriberTrouble(error: unknown): void {
    // A client being shut down is not trouble worth a warning.
    if (this.closed || this.conn?.state() === 'ended') return;
    const kind = redisTrouble(error);
    const suppressed = this.throttle.take(`pubsub-${kind}`);
    if (suppressed === undefined) return;
    const fields = {
      error: error instanceof Error ? error.message : String(error),
      channel: RESET_CHANNEL,
      suppressed,
    };
    const after = 'refused keys are asked of Redis until it works again';
    if (kind === 'connection') {
      this.logger.warn(fields, `Redis connection for reset announcements (Pub/Sub) was lost; ${after}`);
    } else if (kind === 'acl') {
      this.logger.warn(
        fields,
        `Redis refused Pub/Sub for resets: an ACL must allow PUBLISH and SUBSCRIBE on channel ${RESET_CHANNEL}; ${after}`,
      );
    } else {
      this.logger.warn(fields, `Redis Pub/Sub for resets failed; ${after}`);
    }
  }

  /**
   * The server time from which a refusal's wait is counted: no later than `limit` (the script's
   * own time) nor than the estimate's lower bound, less the estimate's width and 2 ms (the lower
   * bound is floored, and a timer may fire a millisecond early). The retry is timed by an estimate
   * that may lag the server by up to that width, and the bucket's time may be a stamp at the
   * latest the clock could be: counted from here, waiting `retryAfterMs` always suffices.
   */
  private refusalTime(local: number, limit: number): number {
    const lower = this.clock.lowerBound(local);
    const width = this.clock.upperBound(local) - lower;
    if (!Number.isFinite(lower) || !Number.isFinite(width)) return limit;
    return Math.min(limit, lower - Math.ceil(width) - 2);
  }

  /** Counts and logs (throttled) a stored value the script could not decode and replaced. */
  private corruptValue(key: string): void {
    this.corrupt += 1;
    const suppressed = this.throttle.take('corrupt');
    if (suppressed === undefined) return;
    // The limiter's part of the key only (`prefix:n:name:ids:` or `prefix:p:ids:`): the rest
    // identifies a client (and may hold ':', as `user:42` or an IPv6 /64 does), which logs never carry.
    const limiter = LIMITER_PART.exec(key)?.[0] ?? '(not a tollgate key)';
    this.logger.warn(
      { limiter, corruptBuckets: this.corrupt, suppressed },
      'Redis held a value tollgate cannot decode; it was deleted and the key taken as full buckets',
    );
  }

  /** Logs a failure of the client the store opened itself: throttled, as ioredis reports every attempt. */
  private connectionTrouble(error: unknown): void {
    if (this.closed) return;
    const suppressed = this.throttle.take('client');
    if (suppressed === undefined) return;
    this.logger.error(
      {
        error: error instanceof Error ? error.message : String(error),
        url: redactedUrl(this.url as string),
        suppressed,
      },
      `Redis connection failed; ioredis keeps reconnecting (logged at most once in ${LOG_INTERVAL_MS / 1000} s, ${suppressed} held back since the last line)`,
    );
  }

  /** Drops a cached refusal of `key`: Redis just admitted it. Nothing to look up while none is cached. */
  private forget(key: string): void {
    if (this.denials !== undefined && this.denials.size > 0) this.denials.delete(key);
  }

  /** Caches a refusal, if resets can reach the cache and none overlapped the call. */
  private remember(
    key: string,
    buckets: readonly BucketSpec[],
    costs: readonly number[],
    since: number,
    held: number[],
    tokens: number[],
    local: number,
    generation: number | undefined,
  ): void {
    if (this.denials === undefined || this.closed) return;
    if (this.resets === undefined) {
      const conn = this.conn;
      if (conn === undefined) return;
      if (conn.subscriber === undefined) {
        this.noDenialCache(conn);
        return;
      }
      const denials = this.denials;
      // Held here: the shared subscription holds it weakly, so a dropped store can be collected.
      this.resetListener = {
        onReset: (reset) => denials.delete(reset),
        onLost: () => denials.clear(),
        onError: (error) => this.subscriberTrouble(error),
      };
      const membership = joinResets(conn, opener(conn), this.resetListener);
      this.resets = membership.channel;
      this.leaveResets = membership.leave;
      this.resets.start();
      return;
    }
    // After a lost subscription, the next refusal opens a new one (on a Cluster, maybe on another node).
    this.resets.start();
    if (!this.resets.ready || generation !== this.resets.generation) return;
    let staleAfter = 0;
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i] as BucketSpec;
      const cost = costs[i] as number;
      if (cost > b.capacity) return;
      staleAfter = Math.max(staleAfter, msUntil(tokens[i] as number, cost, b.capacity, b.ratePerMs));
    }
    this.denials.remember(key, buckets, since, held, local, staleAfter);
  }

  /** Says once per client that it carries no denial cache: its family gives no reset subscriber. */
  private noDenialCache(conn: RedisConnection): void {
    if (toldNoDenialCache.has(conn)) return;
    toldNoDenialCache.add(conn);
    this.logger.info(
      { client: conn.family },
      `RedisStore keeps no denial cache on a ${conn.family} client (it cannot tell when a reset subscription is lost); every refusal asks Redis`,
    );
  }

  private connect(): Promise<RedisConnection> {
    if (this.conn !== undefined) return Promise.resolve(this.conn);
    // A closed store opens no new connection that nobody would close.
    if (this.closed) return Promise.reject(new TollgateError(ErrorCodes.STORE_UNAVAILABLE, 'RedisStore is closed'));
    this.connecting ??= import('ioredis').then((mod) => {
      const redis = new mod.Redis(this.url as string);
      // Without a listener ioredis prints a stack to stderr for every failed reconnection attempt.
      redis.on('error', (error: unknown) => this.connectionTrouble(error));
      const conn = redisConnection(redis) as RedisConnection;
      this.client = redis as unknown as RedisClientLike;
      this.conn = conn;
      return conn;
    });
    return this.connecting;
  }
}

/**
 * Opens the reset subscriber of `conn`. A closure made here, not in a method: the shared
 * subscription keeps it, and a closure made in a method would keep that store alive with it.
 */
function opener(conn: RedisConnection): () => RedisSubscriberLike {
  return () => (conn.subscriber as () => RedisSubscriberLike)();
}

/** Announces a reset of `key`; after the deletion, so no process can cache the old state again. */
export async function announceReset(conn: RedisConnection, key: string): Promise<void> {
  await conn.publish(RESET_CHANNEL, key);
}

/** The URL without its password, for log lines. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis://…';
  }
}

function protocolError(): TollgateError {
  return new TollgateError(ErrorCodes.STORE_PROTOCOL, 'Unexpected reply from the tollgate Redis script');
}

function parseDenialCache(value: unknown): DenialCache | undefined {
  if (value === false) return undefined;
  if (value === undefined || value === true) return new DenialCache(10_000);
  const opts = assertOptionsObject(value, 'denialCache');
  assertKnownOptions(opts, new Set(['maxKeys']), 'denialCache');
  return new DenialCache(opts.maxKeys === undefined ? 10_000 : positiveInteger(opts.maxKeys, 'denialCache.maxKeys'));
}
