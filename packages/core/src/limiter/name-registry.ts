import { InvalidOptionError } from '../errors.js';

/** Who holds a limiter name on one store: their common policy, and how many live limiters. */
interface Claim {
  /** Policy ids in order: what the store's buckets under this name are shaped by. */
  readonly policyId: string;
  /** The policies as people read them, for the error message. */
  readonly policyLabel: string;
  live: number;
}

/** Names in use per store, by the key prefix they produce (`${prefix}:n:${name}:`). */
const claimsByStore = new WeakMap<object, Map<string, Claim>>();

/** Gives a name back when its limiter is garbage-collected, so a process may rebuild it with a new policy. */
const release = new FinalizationRegistry<{ claims: Map<string, Claim>; keyPrefix: string }>(({ claims, keyPrefix }) => {
  const claim = claims.get(keyPrefix);
  if (claim !== undefined && --claim.live === 0) claims.delete(keyPrefix);
});

/**
 * Records that `limiter`, named `name`, keeps its buckets under `keyPrefix` in `store` with the
 * given policies. Limiters with one name share their keys: with two policies, each decision would
 * rewrite the other's buckets (on Redis a lax limiter refilled a strict one on every call). So a
 * second live limiter with the same name, prefix and store but other policies is refused; the same
 * policies again (limiters built in a loop, one per route) are fine. The registry is per process: it
 * cannot see a limiter of another process, nor another store object over the same Redis.
 */
export function claimName(
  store: object,
  keyPrefix: string,
  name: string,
  policies: readonly { readonly id: string; readonly label: string }[],
  limiter: object,
): void {
  let claims = claimsByStore.get(store);
  if (claims === undefined) {
    claims = new Map();
    claimsByStore.set(store, claims);
  }
  const policyId = policies.map((p) => p.id).join('+');
  const policyLabel = policies.map((p) => p.label).join(' + ');
  const claim = claims.get(keyPrefix);
  if (claim !== undefined && claim.policyId !== policyId) {
    throw new InvalidOptionError(
      'name',
      name,
      `this store already has a limiter named "${name}" (same prefix) with policy ${claim.policyLabel}, and this one has ${policyLabel}. ` +
        'Limiters with one name share their buckets, so one name must keep one policy: give this limiter another name',
    );
  }
  if (claim === undefined) claims.set(keyPrefix, { policyId, policyLabel, live: 1 });
  else claim.live += 1;
  release.register(limiter, { claims, keyPrefix });
}
