import { isIP } from 'node:net';
import { type Policy, type PolicyOptions, RateLimiter, type RedisClientLike, RedisStore } from '@tollgate/core';
import { ipKey, tokenKey } from '@tollgate/core/adapter';
import { bucketStanding, decodeBuckets, legacyHashIds, parsePolicyId } from '@tollgate/core/stored-format';
import type { KeySpec, LimiterSpec } from './args.js';
import { type Client, globEscape, scanKeys } from './connect.js';
import { CliError, EXIT_USAGE } from './errors.js';

/** One limiter's buckets for one key, as `status` reports them. */
export interface BucketStatus {
  /** The Redis key holding the buckets. */
  readonly redisKey: string;
  readonly limiter: { readonly prefix: string; readonly name: string | null; readonly label: string };
  /** False when Redis holds nothing for the key: its buckets are full (or it was never seen). */
  readonly stored: boolean;
  /** Whether a request of cost 1 would be admitted now. */
  readonly allowed: boolean;
  readonly policies: readonly PolicyReport[];
}

export interface PolicyReport {
  /** As in the RateLimit-Policy header, e.g. `100-per-1m`. */
  readonly policy: string;
  readonly limit: number;
  /** Whole tokens left. */
  readonly remaining: number;
  /** Exact tokens left (buckets refill continuously). */
  readonly tokens: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
  /** Milliseconds until one token is available; 0 when one is now. */
  readonly retryAfterMs: number;
}

export interface ResetResult {
  readonly redisKey: string;
  readonly limiter: BucketStatus['limiter'];
  /** False when there was nothing to delete: the buckets were full already. */
  readonly reset: boolean;
}

/**
 * The key the limiter was given for what the operator typed: as it is, or keyed as the HTTP
 * middleware keys a client IP or an API token (with the same functions).
 */
export function limiterKey(key: KeySpec): string {
  if (key.kind === 'raw') return key.value;
  if (key.kind === 'token') return tokenKey(key.value);
  if (isIP(key.value) === 0) throw new CliError(`"${key.value}" is not an IP address (--ip)`, EXIT_USAGE);
  return ipKey(key.value, key.ipv6Subnet) as string;
}

/**
 * A RateLimiter used only to derive store keys exactly as the app's limiter does: keys are
 * `${prefix}:n:${name}:${policy ids}:…` for a named limiter and `${prefix}:p:${policy ids}:…` for
 * an unnamed one. Nothing is ever consumed through it.
 */
class KeyDeriver {
  readonly limiter: RateLimiter;
  /** Every key of this limiter starts with this. */
  readonly base: string;
  /**
   * Every key of a limiter with this name starts with this, whatever its policies (`base` for an
   * unnamed limiter): the policies of a name are what the operator does not give.
   */
  readonly family: string;

  constructor(
    readonly prefix: string,
    readonly name: string | undefined,
    policies: readonly PolicyOptions[],
    /** A named limiter whose limits vary per request: its keys are `${prefix}:n:${name}:q:<client>`. */
    perRequest = false,
  ) {
    try {
      this.limiter = new RateLimiter({
        ...(perRequest ? { max: () => 1, window: 1 } : { policies }),
        prefix,
        ...(name === undefined ? {} : { name }),
        // Never used: a store that is never called, so no memory store is made.
        store: { consume: unreachable, peek: unreachable, reset: unreachable },
      });
    } catch (error) {
      const option = (error as { option?: unknown }).option;
      if (typeof option !== 'string') throw error;
      const flag = option.replace(/^policies\[\d+\]\./, '');
      throw new CliError(`--${flag}${(error as Error).message.replace(/^tollgate: option `[^`]*`/, '')}`, EXIT_USAGE);
    }
    // A safe key ('_') is stored as it is, so what precedes it is the limiter's own part.
    this.base = this.limiter.keyFor('_').slice(0, -1);
    this.family = name === undefined ? this.base : `${prefix}:n:${name}:`;
  }

  /** The key's part after `base`: the caller's key as the limiter stores it. */
  tail(clientKey: string): string {
    return this.limiter.keyFor(clientKey).slice(this.base.length);
  }

  get report(): BucketStatus['limiter'] {
    return { prefix: this.prefix, name: this.name ?? null, label: this.limiter.label };
  }
}

/** Status cannot read a per-request limiter's key: its buckets are stored without their policies. */
function perRequestStatus(redisKey: string): CliError {
  return new CliError(
    `${redisKey} belongs to a limiter whose limits vary per request (max or policies as functions, or quotas): its buckets are stored without their policies, so status cannot tell what is left; reset works`,
  );
}

function unreachable(): never {
  throw new Error('tollgate CLI: the key deriver has no store');
}

/** Builds the deriver for a limiter identified on the command line. */
export function deriverFor(spec: LimiterSpec, prefix: string): KeyDeriver {
  if (spec.kind === 'policy') return new KeyDeriver(prefix, undefined, spec.policies);
  if (spec.kind === 'name') return new KeyDeriver(prefix, spec.name, [{ max: 1, window: 1 }]);
  throw new Error('tollgate CLI: no limiter given');
}

/** Checks the command line's limiter and key before connecting: a usage error never needs Redis. */
export function validate(spec: LimiterSpec, key: KeySpec, prefix: string): void {
  limiterKey(key);
  // Building the deriver validates --name, --max/--window/--burst and --prefix as the limiter does.
  if (spec.kind === 'any') new KeyDeriver(prefix, 'probe', [{ max: 1, window: 1 }]);
  else deriverFor(spec, prefix);
}

/** `timeoutMs` bounds each read (--timeout), in place of the store's own default. */
export async function status(
  client: Client,
  spec: LimiterSpec,
  key: KeySpec,
  prefix: string,
  timeoutMs: number,
): Promise<BucketStatus[]> {
  const clientKey = limiterKey(key);
  if (spec.kind === 'any') {
    const found = await findEverywhere(client, prefix, clientKey);
    if (found.length === 0) throw noKeyAnywhere(prefix, key);
    return Promise.all(found.map(({ deriver, redisKey }) => read(client, deriver, redisKey, timeoutMs)));
  }
  const deriver = deriverFor(spec, prefix);
  if (spec.kind === 'name') return namedStatus(client, deriver, clientKey, timeoutMs);
  const redisKey = deriver.limiter.keyFor(clientKey);
  if ((await bucketFields(client, redisKey)) !== undefined) return [await read(client, deriver, redisKey, timeoutMs)];
  // Nothing stored for this key: a full bucket, if the limiter exists at all.
  if ((await firstKey(client, deriver)) === undefined) throw noSuchLimiter(deriver);
  return [full(deriver, redisKey)];
}

/**
 * A named limiter's buckets for the key: one per policy set the name has a key under (two during
 * a rollout that changes its policy, each counting on its own). With none, a full bucket under
 * the policies of another key of the name, if it has any.
 */
async function namedStatus(
  client: Client,
  deriver: KeyDeriver,
  clientKey: string,
  timeoutMs: number,
): Promise<BucketStatus[]> {
  const found = await namedKeys(client, deriver, clientKey);
  const out: BucketStatus[] = [];
  for (const { deriver: owner, redisKey } of found) {
    // Checked first: a key that is not a bucket is refused, never misread.
    if ((await bucketFields(client, redisKey)) !== undefined) out.push(await read(client, owner, redisKey, timeoutMs));
  }
  if (out.length > 0) return out;
  const sibling = await firstKey(client, deriver);
  const owner = sibling === undefined ? undefined : fromKey(deriver.prefix, sibling);
  if (owner === undefined) throw noSuchLimiter(deriver);
  return [full(owner, owner.limiter.keyFor(clientKey))];
}

/**
 * Deletes the key's buckets. Idempotent: a key with nothing stored (reset already, never seen,
 * or a limiter with no key at all) is nothing to reset, not a failure, so scripts can retry.
 * With `--all`, the list of limiters reset is then empty.
 */
export async function reset(client: Client, spec: LimiterSpec, key: KeySpec, prefix: string): Promise<ResetResult[]> {
  const clientKey = limiterKey(key);
  if (spec.kind === 'any') {
    const found = await findEverywhere(client, prefix, clientKey);
    const out: ResetResult[] = [];
    for (const { deriver, redisKey } of found) {
      out.push({ redisKey, limiter: deriver.report, reset: await deleteAndAnnounce(client, redisKey) });
    }
    return out;
  }
  const deriver = deriverFor(spec, prefix);
  if (spec.kind === 'name') {
    const found = await namedKeys(client, deriver, clientKey);
    // Every key checked before any is deleted: a key that is not a bucket is refused, never deleted.
    for (const { redisKey } of found) await bucketFields(client, redisKey);
    // No key: the policies are unknown, so what was searched stands for the key.
    if (found.length === 0)
      return [{ redisKey: namedPattern(deriver, clientKey), limiter: deriver.report, reset: false }];
    const out: ResetResult[] = [];
    for (const { deriver: owner, redisKey } of found) {
      out.push({ redisKey, limiter: owner.report, reset: await deleteAndAnnounce(client, redisKey) });
    }
    return out;
  }
  const redisKey = deriver.limiter.keyFor(clientKey);
  // Checked first: a key that is not a bucket is refused, never deleted.
  if ((await bucketFields(client, redisKey)) === undefined)
    return [{ redisKey, limiter: deriver.report, reset: false }];
  return [{ redisKey, limiter: deriver.report, reset: await deleteAndAnnounce(client, redisKey) }];
}

/** Where a named limiter's keys for `clientKey` are, whatever its policies: `${prefix}:n:${name}:*:${key}`. */
function namedPattern(deriver: KeyDeriver, clientKey: string): string {
  return `${deriver.family}*:${deriver.tail(clientKey)}`;
}

/**
 * The keys a limiter with this name holds for `clientKey`, one per policy set, in key order: each
 * kept only if a limiter with that name and the policies its key names would itself put the
 * client's key there (the glob's `*` could also span the end of another client's key).
 */
async function namedKeys(
  client: Client,
  deriver: KeyDeriver,
  clientKey: string,
): Promise<Array<{ deriver: KeyDeriver; redisKey: string }>> {
  const found: Array<{ deriver: KeyDeriver; redisKey: string }> = [];
  const pattern = `${globEscape(deriver.family)}*:${globEscape(deriver.tail(clientKey))}`;
  for await (const redisKey of scanKeys(client, pattern)) {
    const owner = fromKey(deriver.prefix, redisKey);
    if (owner?.name === deriver.name && owner?.limiter.keyFor(clientKey) === redisKey)
      found.push({ deriver: owner, redisKey });
  }
  return found.sort((a, b) => a.redisKey.localeCompare(b.redisKey));
}

/**
 * Deletes the key, then announces the reset, in that order: app processes drop any refusal of
 * this key they answer from memory, and none can cache the old state again after the message.
 */
async function deleteAndAnnounce(client: Client, redisKey: string): Promise<boolean> {
  const deleted = (await client.del(redisKey)) > 0;
  await client.publish(RedisStore.resetChannel, redisKey);
  return deleted;
}

/**
 * The policy ids a stored bucket set holds, undefined when there is no key; an error for a key
 * that is not a bucket. The layout (a string, or an older tollgate's hash) is read with the
 * codec the Redis script follows: `@tollgate/core/stored-format`.
 */
async function bucketFields(client: Client, redisKey: string): Promise<string[] | undefined> {
  const type = await client.type(redisKey);
  if (type === 'none') return undefined;
  if (type === 'hash') return legacyHashIds(await client.hgetall(redisKey));
  if (type !== 'string') throw new CliError(`${redisKey} is a Redis ${type}, not a tollgate bucket`);
  const value = await client.getBuffer(redisKey);
  const ids = value === null ? undefined : decodeBuckets(value)?.ids;
  if (ids === undefined) throw new CliError(`${redisKey} is a Redis string that is not a tollgate bucket`);
  return [...ids];
}

/** The policies whose buckets a stored set holds, by id, in the order stored. */
function policiesById(redisKey: string, fields: readonly string[]): Map<string, PolicyOptions> {
  const policies = new Map<string, PolicyOptions>();
  for (const field of fields) {
    const parts = parsePolicyId(field);
    if (parts === undefined && /^q\d+$/.test(field)) throw perRequestStatus(redisKey);
    if (parts === undefined) throw new CliError(`${redisKey} is not a tollgate bucket (field "${field}")`);
    policies.set(field, { max: parts.max, window: parts.windowMs, burst: parts.capacity });
  }
  if (policies.size === 0) throw new CliError(`${redisKey} is not a tollgate bucket (no policy fields)`);
  return policies;
}

/** Any key of the limiter (of any limiter with its name, for a named one), or undefined. */
async function firstKey(client: Client, deriver: KeyDeriver): Promise<string | undefined> {
  for await (const key of scanKeys(client, `${globEscape(deriver.family)}*`)) {
    // A named limiter's key must name policies: another key under the name is not one of its.
    if (deriver.name === undefined || fromKey(deriver.prefix, key) !== undefined) return key;
  }
  return undefined;
}

/** The limiter part of a stored key: `n:<name>:<policy ids>:` or `p:<policy ids>:`, after `${prefix}:`. */
function limiterPart(prefix: string, redisKey: string): { name: string | undefined; ids: string[] } | undefined {
  if (!redisKey.startsWith(`${prefix}:`)) return undefined;
  const match = /^(?:n:([^:]+):|p:)([^:]+):/.exec(redisKey.slice(prefix.length + 1));
  if (match === null) return undefined;
  return { name: match[1], ids: (match[2] as string).split('+') };
}

/**
 * The limiter a key names, from the key alone (its policies are in it), or undefined when the
 * key is not one a limiter would make.
 */
function fromKey(prefix: string, redisKey: string): KeyDeriver | undefined {
  const part = limiterPart(prefix, redisKey);
  if (part === undefined) return undefined;
  // Per-request limits (functions of the request, quotas): one key per client, buckets by position.
  if (part.name !== undefined && part.ids.length === 1 && part.ids[0] === 'q') {
    return new KeyDeriver(prefix, part.name, [], true);
  }
  const policies: PolicyOptions[] = [];
  for (const id of part.ids) {
    const parts = parsePolicyId(id);
    if (parts === undefined) return undefined;
    policies.push({ max: parts.max, window: parts.windowMs, burst: parts.capacity });
  }
  try {
    return new KeyDeriver(prefix, part.name, policies);
  } catch {
    return undefined;
  }
}

/** Every limiter under `prefix` holding state for `clientKey`. */
async function findEverywhere(
  client: Client,
  prefix: string,
  clientKey: string,
): Promise<Array<{ deriver: KeyDeriver; redisKey: string }>> {
  const probe = new KeyDeriver(prefix, 'probe', [{ max: 1, window: 1 }]);
  const tail = probe.tail(clientKey);
  const found: Array<{ deriver: KeyDeriver; redisKey: string }> = [];
  for await (const redisKey of scanKeys(client, `${globEscape(prefix)}:?:*:${globEscape(tail)}`)) {
    const deriver = await identify(client, prefix, redisKey);
    // Kept only if the limiter it names would itself put this client's key here.
    if (deriver !== undefined && deriver.limiter.keyFor(clientKey) === redisKey) found.push({ deriver, redisKey });
  }
  return found.sort((a, b) => a.redisKey.localeCompare(b.redisKey));
}

/**
 * The limiter a stored key belongs to, from the key (`n:<name>:<ids>` or `p:<ids>`) and its
 * fields: the policies in the order of the ids in the key (the order they were configured in),
 * each of which the stored buckets must hold.
 */
async function identify(client: Client, prefix: string, redisKey: string): Promise<KeyDeriver | undefined> {
  const part = limiterPart(prefix, redisKey);
  if (part === undefined) return undefined;
  const fields = await bucketFields(client, redisKey).catch(() => undefined);
  if (fields === undefined) return undefined;
  try {
    const byId = policiesById(redisKey, fields);
    const ordered = part.ids.map((id) => byId.get(id));
    if (ordered.some((p) => p === undefined)) return undefined;
    return new KeyDeriver(prefix, part.name, ordered as PolicyOptions[]);
  } catch {
    return undefined;
  }
}

/**
 * One store per client for every read of a command, as an app shares one store between its
 * limiters: a key that many limiters hold is as many reads, not as many stores on the client
 * (each can hold listeners on it, and past ten Node warns of a leak).
 */
const stores = new WeakMap<Client, RedisStore>();

function storeFor(client: Client, timeoutMs: number): RedisStore {
  let store = stores.get(client);
  if (store === undefined) {
    store = new RedisStore({ client: client as unknown as RedisClientLike, timeoutMs });
    stores.set(client, store);
  }
  return store;
}

/** Reads the buckets through the store's own script, timed by the Redis server's clock. */
async function read(client: Client, deriver: KeyDeriver, redisKey: string, timeoutMs: number): Promise<BucketStatus> {
  if (deriver.limiter.perRequest) throw perRequestStatus(redisKey);
  const store = storeFor(client, timeoutMs);
  const { policies } = deriver.limiter;
  const { tokens } = await store.peek(redisKey, policies);
  return report(deriver, redisKey, true, policies, tokens);
}

function full(deriver: KeyDeriver, redisKey: string): BucketStatus {
  const { policies } = deriver.limiter;
  return report(
    deriver,
    redisKey,
    false,
    policies,
    policies.map((p) => p.capacity),
  );
}

function report(
  deriver: KeyDeriver,
  redisKey: string,
  stored: boolean,
  policies: readonly Policy[],
  tokens: readonly number[],
): BucketStatus {
  const reports = policies.map((policy, i): PolicyReport => {
    const t = tokens[i] ?? policy.capacity;
    const { remaining, resetMs, retryAfterMs } = bucketStanding(t, policy.capacity, policy.ratePerMs);
    return {
      policy: policy.label,
      limit: policy.capacity,
      remaining,
      tokens: Math.round(t * 1000) / 1000,
      resetMs,
      retryAfterMs,
    };
  });
  return {
    redisKey,
    limiter: deriver.report,
    stored,
    allowed: reports.every((r) => r.retryAfterMs === 0),
    policies: reports,
  };
}

function noSuchLimiter(deriver: KeyDeriver): CliError {
  const which = deriver.name === undefined ? `with policy ${deriver.limiter.label}` : `named "${deriver.name}"`;
  return new CliError(
    `no limiter ${which} under prefix "${deriver.prefix}": no key matches ${deriver.family}* (check --name, --max/--window and --prefix; a limiter whose buckets are all full has no keys)`,
  );
}

function noKeyAnywhere(prefix: string, key: KeySpec): CliError {
  const shown = key.kind === 'token' ? 'that token' : `"${key.value}"`;
  const hint = key.kind === 'raw' ? '; for a client IP or API token add --ip or --token' : '';
  return new CliError(
    `no limiter under prefix "${prefix}" holds state for ${shown}: its buckets are full everywhere, or the key is wrong${hint}`,
  );
}
