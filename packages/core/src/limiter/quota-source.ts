import { ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import type { Logger } from '../log.js';
import { assertKnownOptions, assertOptionsObject, positiveInteger, timerMs } from '../options/validate.js';
import { withDeadline } from '../stores/deadline.js';
import type { RedisConnection } from '../stores/redis-clients/index.js';
import { storeKey } from '../stores/store-key.js';
import { Throttle } from '../stores/throttle.js';
import { withTimeout } from '../with-timeout.js';
import { isPromiseLike } from './is-promise-like.js';
import type { PolicyOptions } from './policy.js';

/**
 * Where per-tenant limits set at runtime live (`npx tollgate quota set <tenant> …` writes the
 * Redis one). `read` answers the policies set for a tenant, or undefined for none.
 */
export interface QuotaSource {
  /** The policies set for `tenant`, or `undefined` when it has none (the limiter's own apply). */
  read(tenant: string): Promise<readonly PolicyOptions[] | undefined> | readonly PolicyOptions[] | undefined;
}

/** The `quotas` option of a limiter: where quotas are read, for whom, and how long they are kept. */
export interface QuotaOptions<Req = unknown> {
  source: QuotaSource;
  /**
   * The tenant a call belongs to (an account, a plan, an API key's owner): its quota is looked up
   * by it. Default: the call's key. Return undefined for a call with no tenant (configured limits).
   */
  tenant?: (request: Req, key: string) => string | undefined;
  /**
   * How long a quota read is used before it is read again (default 5000 ms): a quota changed in
   * the source applies in every instance within `cacheMs` plus one read (at most the limiter's
   * `timeoutMs`).
   */
  cacheMs?: number;
  /** Most tenants whose quota is kept at once (default 10,000); the oldest go first. */
  maxTenants?: number;
}

interface Entry {
  value: readonly PolicyOptions[] | undefined;
  /** Performance-clock ms until which `value` is used without reading again. */
  freshUntil: number;
  reading: Promise<readonly PolicyOptions[] | undefined> | undefined;
}

const KNOWN = new Set(['source', 'tenant', 'cacheMs', 'maxTenants']);
/** After a failed read, the last known value (or none) is used this long before the next try. */
const RETRY_AFTER_FAILURE_MS = 1000;

/**
 * The limiter's view of a quota source: a bounded cache in front of it. A tenant is read once,
 * then again when its entry is older than `cacheMs`: the stale value answers meanwhile and one
 * read refreshes it, so a request waits for the source only the first time a tenant is seen.
 * Every read is bounded by the limiter's `timeoutMs`; a read that fails or times out keeps the
 * last value known (or none: the configured limits), logged at most every 30 s.
 */
export class QuotaLookup<Req> {
  private readonly source: QuotaSource;
  private readonly tenant: ((request: Req, key: string) => string | undefined) | undefined;
  readonly cacheMs: number;
  private readonly maxTenants: number;
  private readonly entries = new Map<string, Entry>();
  private readonly throttle = new Throttle(30_000);

  constructor(
    options: unknown,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly label: string,
    private readonly clock: () => number = () => performance.now(),
  ) {
    const opts = assertOptionsObject(options, 'quotas');
    assertKnownOptions(opts, KNOWN, 'quotas');
    const source = opts.source as QuotaSource | undefined;
    if (typeof source !== 'object' || source === null || typeof source.read !== 'function') {
      throw new InvalidOptionError(
        'quotas.source',
        source,
        'accepted: an object with read(tenant), such as a RedisQuotaSource',
      );
    }
    if (opts.tenant !== undefined && typeof opts.tenant !== 'function') {
      throw new InvalidOptionError(
        'quotas.tenant',
        opts.tenant,
        'accepted: a function (request, key) => string | undefined',
      );
    }
    this.source = source;
    this.tenant = opts.tenant as QuotaLookup<Req>['tenant'];
    this.cacheMs = opts.cacheMs === undefined ? 5000 : timerMs(opts.cacheMs, 'quotas.cacheMs');
    this.maxTenants = opts.maxTenants === undefined ? 10_000 : positiveInteger(opts.maxTenants, 'quotas.maxTenants');
  }

  /** The quota of the call's tenant, or undefined (configured limits apply). */
  lookup(
    request: Req | undefined,
    key: string,
  ): readonly PolicyOptions[] | undefined | Promise<readonly PolicyOptions[] | undefined> {
    const tenant = this.tenant === undefined ? key : this.tenant(request as Req, key);
    if (tenant === undefined) return undefined;
    if (typeof tenant !== 'string' || tenant.length === 0) {
      throw new TollgateError(
        ErrorCodes.INVALID_KEY,
        'tollgate: quotas.tenant must return a non-empty string or undefined',
      );
    }
    const now = this.clock();
    const entry = this.entries.get(tenant);
    if (entry !== undefined) {
      // Still being read for the first time: wait for that read rather than answer without it.
      if (entry.freshUntil === Number.POSITIVE_INFINITY && entry.reading !== undefined) return entry.reading;
      if (now >= entry.freshUntil && entry.reading === undefined) this.refresh(tenant, entry);
      return entry.value;
    }
    const fresh: Entry = { value: undefined, freshUntil: Number.POSITIVE_INFINITY, reading: undefined };
    if (this.entries.size >= this.maxTenants) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(tenant, fresh);
    return this.refresh(tenant, fresh);
  }

  /** Forgets every cached quota (they are read again on next use). */
  clear(): void {
    this.entries.clear();
  }

  private refresh(tenant: string, entry: Entry): Promise<readonly PolicyOptions[] | undefined> {
    let pending: Promise<readonly PolicyOptions[] | undefined>;
    try {
      const read = this.source.read(tenant);
      pending = isPromiseLike(read) ? withTimeout(Promise.resolve(read), this.timeoutMs) : Promise.resolve(read);
    } catch (error) {
      pending = Promise.reject(error);
    }
    entry.reading = pending.then(
      (value) => {
        entry.value = value;
        entry.freshUntil = this.clock() + this.cacheMs;
        entry.reading = undefined;
        return value;
      },
      (error: unknown) => {
        entry.freshUntil = this.clock() + Math.min(this.cacheMs, RETRY_AFTER_FAILURE_MS);
        entry.reading = undefined;
        this.failed(error);
        return entry.value;
      },
    );
    return entry.reading;
  }

  private failed(error: unknown): void {
    const suppressed = this.throttle.take('read');
    if (suppressed === undefined) return;
    const code = error instanceof TollgateError ? error.code : ErrorCodes.STORE_UNAVAILABLE;
    this.logger.warn(
      { limiter: this.label, code, error: error instanceof Error ? error.message : String(error), suppressed },
      'tollgate: a quota could not be read; the last known quota (or the configured limits) applies',
    );
  }
}

/** The Redis key of a tenant's quota: `<prefix>:quota:<tenant>` (a tenant that is not plain is a digest). */
export function quotaKey(prefix: string, tenant: string): string {
  return `${prefix}:quota:${storeKey(tenant)}`;
}

/** The options of `new RedisQuotaSource()`. */
export interface RedisQuotaSourceOptions {
  /** A RedisStore (or anything with `connection()`): the quota is read over its connection. */
  store: {
    /** The store's client-neutral Redis connection, made on first use. */
    connection(): Promise<RedisConnection>;
    /** The store's bound on a Redis call (`RedisStore`'s `timeoutMs`); 1000 ms when absent. */
    readonly timeoutMs?: number;
  };
  /** First segment of the quota keys (default `'tollgate'`), as `npx tollgate quota --prefix`. */
  prefix?: string;
}

/**
 * Quotas in Redis, one hash per tenant at `<prefix>:quota:<tenant>` with the fields `max`,
 * `window` and `burst` (one policy) or `policies` (a JSON array of them), as
 * `npx tollgate quota set` writes them. Bounded by the store's `timeoutMs` and the limiter's.
 *
 * @example
 * const store = new RedisStore({ client: redis });
 * const limiter = new RateLimiter({ name: 'api', max: 100, window: '1m', store, quotas: { source: new RedisQuotaSource({ store }) } });
 */
export class RedisQuotaSource implements QuotaSource {
  private readonly store: RedisQuotaSourceOptions['store'];
  readonly prefix: string;

  constructor(options: RedisQuotaSourceOptions) {
    const opts = assertOptionsObject(options, 'RedisQuotaSource');
    assertKnownOptions(opts, new Set(['store', 'prefix']), 'RedisQuotaSource');
    const store = opts.store as RedisQuotaSourceOptions['store'] | undefined;
    if (typeof store !== 'object' || store === null || typeof store.connection !== 'function') {
      throw new InvalidOptionError('store', store, 'accepted: a RedisStore');
    }
    this.store = store;
    this.prefix = opts.prefix === undefined ? 'tollgate' : String(opts.prefix);
  }

  /**
   * Reads the tenant's hash: its policy, or `undefined` when none is set. Bounded by the store's
   * `timeoutMs` whoever calls it, ending in `TOLLGATE_STORE_TIMEOUT` or `_UNAVAILABLE`.
   */
  read(tenant: string): Promise<readonly PolicyOptions[] | undefined> {
    const hash = this.store.connection().then((conn) => conn.hgetall(quotaKey(this.prefix, tenant)));
    return withDeadline(hash, this.store.timeoutMs ?? 1000, 'RedisQuotaSource.read').then(parseQuota);
  }
}

/** A quota hash's policies; undefined when it holds none. Values are checked when they are used. */
export function parseQuota(hash: Record<string, string>): readonly PolicyOptions[] | undefined {
  if (hash.policies !== undefined) {
    try {
      return JSON.parse(hash.policies) as PolicyOptions[];
    } catch {
      throw new TollgateError(ErrorCodes.STORE_PROTOCOL, 'tollgate: a quota hash holds `policies` that are not JSON');
    }
  }
  if (hash.max === undefined) return undefined;
  const window = /^\d+$/.test(hash.window ?? '') ? Number(hash.window) : hash.window;
  const policy: Record<string, unknown> = { max: Number(hash.max), window };
  if (hash.burst !== undefined) policy.burst = Number(hash.burst);
  return [policy as unknown as PolicyOptions];
}
