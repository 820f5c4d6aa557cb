import type { Duration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import type { Logger } from '../log.js';
import { ownOptions } from '../options/validate.js';
import type { BucketSpec } from '../stores/store.js';
import { Throttle } from '../stores/throttle.js';
import { isPromiseLike } from './is-promise-like.js';
import { createPolicy, type Policy, type PolicyOptions } from './policy.js';
import type { QuotaLookup } from './quota-source.js';

/** A limit given as a value, or as a function of the request (sync or async), e.g. per plan. */
export type PerRequest<T, Req> = T | ((request: Req) => T | PromiseLike<T>);

/**
 * The policies one call is decided by, and the buckets a store keeps for them. Built once per
 * distinct set of values and reused, so a request does not validate its policies again.
 */
export interface LimitSet {
  readonly policies: readonly Policy[];
  readonly buckets: readonly BucketSpec[];
  readonly unitCosts: readonly number[];
}

/** Most distinct limit sets kept; past it the cache starts over (limits come from a few plans). */
const MAX_SETS = 1024;

/**
 * Buckets of a limiter whose limits vary are named by position (`q0`, `q1`, …), not by policy:
 * the stored tokens of a client carry over when its limit changes, capped at the new capacity
 * (both stores read a bucket's tokens and refill them to at most the capacity they are given).
 * Named by policy, a new limit would find no bucket of that name and start full: a downgrade,
 * or a quota flipped back and forth, would hand out fresh allowances.
 */
function positional(policies: readonly Policy[]): BucketSpec[] {
  return policies.map((p, i) => ({ id: `q${i}`, capacity: p.capacity, ratePerMs: p.ratePerMs }));
}

export function limitSet(policies: readonly Policy[], byPosition: boolean): LimitSet {
  return Object.freeze({
    policies: Object.freeze([...policies]),
    buckets: Object.freeze(byPosition ? positional(policies) : [...policies]),
    unitCosts: Object.freeze(policies.map(() => 1)),
  });
}

/** Whether any of `max`, `window`, `burst` or `policies` is a function of the request. */
export function hasPerRequestLimits(opts: Record<string, unknown>): boolean {
  return ['max', 'window', 'burst', 'policies'].some((o) => typeof opts[o] === 'function');
}

/**
 * Resolves a call's limits: the limiter's `max`/`window`/`burst`/`policies`, each a value or a
 * function of the request, then the tenant's quota from a quota source when one is set (a quota
 * replaces the configured policies). Values are validated as `new RateLimiter` validates them,
 * once per distinct set.
 */
export class LimitResolver<Req> {
  private readonly sets = new Map<string, LimitSet>();
  private readonly throttle = new Throttle(30_000);

  constructor(
    private readonly opts: Record<string, unknown>,
    private readonly maxPolicies: number,
    private readonly quota: QuotaLookup<Req> | undefined,
    /** The limits when they are not functions of the request (a limiter with quotas only). */
    private readonly base: LimitSet | undefined,
    private readonly logger: Logger,
    private readonly label: string,
  ) {}

  resolve(request: Req | undefined, clientKey: string): LimitSet | Promise<LimitSet> {
    const base = this.configured(request);
    if (this.quota === undefined) return base;
    const override = this.quota.lookup(request, clientKey);
    if (!isPromiseLike(override) && !isPromiseLike(base))
      return override === undefined ? base : this.fromQuota(override, base);
    return Promise.all([base, override]).then(([b, o]) => (o === undefined ? b : this.fromQuota(o, b)));
  }

  /** A tenant's quota; one that is not a valid policy list is logged and the configured limits apply. */
  private fromQuota(policies: readonly PolicyOptions[], base: LimitSet): LimitSet {
    try {
      return this.setOf(policies, 'quota');
    } catch (error) {
      const suppressed = this.throttle.take('invalid');
      if (suppressed !== undefined) {
        this.logger.warn(
          { limiter: this.label, error: error instanceof Error ? error.message : String(error), suppressed },
          'tollgate: a quota from the quota source is not a valid policy; the configured limits apply',
        );
      }
      return base;
    }
  }

  private configured(request: Req | undefined): LimitSet | Promise<LimitSet> {
    if (this.base !== undefined) return this.base;
    const { opts } = this;
    if (opts.policies !== undefined) {
      const list = call(opts.policies, request);
      if (isPromiseLike(list))
        return Promise.resolve(list).then((l) => this.setOf(l as readonly PolicyOptions[], 'policies'));
      return this.setOf(list as readonly PolicyOptions[], 'policies');
    }
    const values = [call(opts.max, request), call(opts.window, request), call(opts.burst, request)];
    if (values.some(isPromiseLike)) {
      return Promise.all(values).then(([max, window, burst]) =>
        this.setOf([{ max, window, burst } as PolicyOptions], ''),
      );
    }
    const [max, window, burst] = values;
    return this.setOf([{ max, window, burst } as PolicyOptions], '');
  }

  private setOf(list: readonly PolicyOptions[], option: string): LimitSet {
    if (!Array.isArray(list) || list.length === 0 || list.length > this.maxPolicies) {
      throw new InvalidOptionError(
        option || 'policies',
        list,
        `a per-request limit must give 1 to ${this.maxPolicies} policies { max, window, burst? }`,
      );
    }
    const plain = list.map((p) => {
      const own = typeof p === 'object' && p !== null ? ownOptions(p) : {};
      return { max: own.max, window: own.window, burst: own.burst };
    });
    const id = JSON.stringify(plain);
    const known = this.sets.get(id);
    if (known !== undefined) return known;
    const policies = plain.map((p, i) => {
      const options = (p.burst === undefined ? { max: p.max, window: p.window } : p) as PolicyOptions;
      return createPolicy(options, option === '' ? '' : `${option}[${i}].`);
    });
    const set = limitSet(policies, true);
    if (this.sets.size >= MAX_SETS) this.sets.clear();
    this.sets.set(id, set);
    return set;
  }
}

function call<Req>(value: unknown, request: Req | undefined): unknown {
  return typeof value === 'function' ? (value as (r: Req | undefined) => unknown)(request) : value;
}

/** The shape of a per-request policy option, for the option types. */
export interface PerRequestPolicyOptions<Req> {
  max: PerRequest<number, Req>;
  window: PerRequest<Duration, Req>;
  burst?: PerRequest<number | undefined, Req>;
}
