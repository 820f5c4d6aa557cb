import { MemoryStore, type RedisClientLike, RedisStore, type Store } from '@tollgate/core';
import { describeStoreConformance } from '@tollgate/store-kit';
import { afterAll, beforeAll, describe } from 'vitest';
import { type ClientKind, clientKinds } from './clients.js';

/**
 * The built-in stores under the store kit (packages/store-kit): each held to the reference model,
 * and RedisStore, on every client family, one Redis and the Cluster, to MemoryStore bit for bit.
 */
describeStoreConformance('MemoryStore', {
  create: ({ now }) => new MemoryStore({ now }),
  dispose: (store) => (store as MemoryStore).close?.(),
});

for (const kind of clientKinds) describeKind(kind);

function describeKind(kind: ClientKind) {
  describe.skipIf(!kind.enabled)(`RedisStore on ${kind.name}`, () => {
    let client: RedisClientLike;
    beforeAll(async () => {
      client = await kind.open();
    });
    afterAll(() => kind.close(client));

    describeStoreConformance(`RedisStore on ${kind.name}`, {
      create: ({ now }) => new RedisStore({ client, now }),
      sameAs: ({ now }) => new MemoryStore({ now }),
      dispose: (store: Store) => {
        if (store instanceof MemoryStore) store.close();
      },
    });
  });
}
