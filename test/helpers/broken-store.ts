import type { Store } from '@tollgate/core';

/** A store that is down: every call throws (a pure stub for failMode tests). */
export function brokenStore(): Store & { calls: number } {
  const store = {
    calls: 0,
    consume: () => fail(),
    peek: () => fail(),
    reset: () => fail(),
  };
  function fail(): never {
    store.calls += 1;
    throw new Error('connection refused');
  }
  return store as unknown as Store & { calls: number };
}
