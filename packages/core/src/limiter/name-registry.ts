import type { Logger } from '../log.js';

/** The live limiters with one name on one store, under one prefix, by their policy ids. */
type Holders = Map<string, { readonly label: string; live: number }>;

/** Names in use per store, by `${prefix}:${name}` (neither part can hold a colon). */
const namesByStore = new WeakMap<object, Map<string, Holders>>();

/** Forgets a limiter when it is garbage-collected, so the registry never outgrows the live limiters. */
const release = new FinalizationRegistry<{ names: Map<string, Holders>; slot: string; policyId: string }>(
  ({ names, slot, policyId }) => {
    const holders = names.get(slot);
    const holder = holders?.get(policyId);
    if (holders === undefined || holder === undefined || --holder.live > 0) return;
    holders.delete(policyId);
    if (holders.size === 0) names.delete(slot);
  },
);

/**
 * Records that `limiter`, named `name`, keeps its buckets in `store` under `prefix` with the given
 * policies, and warns when a live limiter of this process has the same name there with other
 * policies. Both work: a limiter's keys carry its policies, so the two count separately. That is
 * what a config reload that changes a policy needs (the old limiter may not be collected yet), but
 * in one app it is more often a name given twice by mistake, hence the warning, once per policy
 * that joins a name (limiters built in a loop, one per route, with one policy warn at most once).
 * The registry is per process: another process, or another store object over the same Redis,
 * is not seen, and needs no warning as its buckets are just as separate.
 */
export function claimName(
  store: object,
  prefix: string,
  name: string,
  policies: readonly { readonly id: string; readonly label: string }[],
  limiter: object,
  logger: Logger,
): void {
  let names = namesByStore.get(store);
  if (names === undefined) {
    names = new Map();
    namesByStore.set(store, names);
  }
  const slot = `${prefix}:${name}`;
  let holders = names.get(slot);
  if (holders === undefined) {
    holders = new Map();
    names.set(slot, holders);
  }
  const policyId = policies.map((p) => p.id).join('+');
  const policy = policies.map((p) => p.label).join(' + ');
  const holder = holders.get(policyId);
  if (holder !== undefined) {
    holder.live += 1;
  } else {
    const others = [...holders.values()].map((h) => h.label);
    holders.set(policyId, { label: policy, live: 1 });
    if (others.length > 0) warnShared(logger, name, policy, others);
  }
  release.register(limiter, { names, slot, policyId });
}

function warnShared(logger: Logger, name: string, policy: string, others: readonly string[]): void {
  logger.warn(
    { limiter: name, policy, otherPolicies: others },
    `limiter "${name}" is built with policy ${policy} while ${others.length === 1 ? 'another limiter' : 'other limiters'} ` +
      `named "${name}" on this store ${others.length === 1 ? 'has policy' : 'have policies'} ${others.join(', ')}: ` +
      `they now count separately (a limiter's keys carry its policies). ` +
      'Expected during a config reload; otherwise give one of them another name',
  );
}
