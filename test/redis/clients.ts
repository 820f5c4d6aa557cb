import type { RedisClientLike } from '@tollgate/core';
import { GlideClient, GlideClusterClient, Logger } from '@valkey/valkey-glide';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { clusterClient, REDIS_URL, redis } from '../helpers/redis.js';

/**
 * Every Redis client family tollgate accepts, on the real server at REDIS_URL and on the real
 * Cluster (REDIS_CLUSTER_NODES): one list that the equivalence, conformance, ledger and client
 * suites read, so a new client is one entry here.
 */
export interface ClientKind {
  /** e.g. `node-redis` or `node-redis Cluster`. */
  readonly name: string;
  readonly family: 'ioredis' | 'node-redis' | 'valkey-glide';
  readonly cluster: boolean;
  /** False when the server or the cluster it needs is not there (CI requires both). */
  readonly enabled: boolean;
  /** A connected client, as an app would make it; the caller closes it with `close`. */
  open(): Promise<RedisClientLike>;
  close(client: RedisClientLike): Promise<void>;
  /**
   * On one Redis only: a client of a server of the test's own (a `RedisProcess`), that keeps
   * trying to reconnect when the server dies, as an app's would. Closed with `close`.
   */
  at?(url: string): Promise<RedisClientLike>;
}

// GLIDE's core logs every NOSCRIPT reply and every timeout it sees as a warning: the suites cause both on purpose.
Logger.setLoggerConfig('error');

const url = new URL(REDIS_URL);
const host = url.hostname;
const port = Number(url.port || 6379);
const clusterAddresses = () =>
  redis.clusterNodes.map((node) => {
    const [h, p] = node.split(':');
    return { host: h as string, port: Number(p) };
  });

export const clientKinds: ClientKind[] = [
  {
    name: 'ioredis',
    family: 'ioredis',
    cluster: false,
    enabled: redis.server,
    open: async () => new Redis(REDIS_URL),
    close: async (c) => {
      (c as Redis).disconnect();
    },
    at: async (at) => {
      const client = new Redis(at, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
      client.on('error', () => {});
      return client;
    },
  },
  {
    name: 'ioredis Cluster',
    family: 'ioredis',
    cluster: true,
    enabled: redis.clusterNodes.length > 0,
    open: () => clusterClient(),
    close: async (c) => {
      await (c as Cluster).quit();
    },
  },
  {
    name: 'node-redis',
    family: 'node-redis',
    cluster: false,
    enabled: redis.server,
    open: async () => {
      const client = createClient({ url: REDIS_URL });
      client.on('error', () => {});
      await client.connect();
      return client;
    },
    close: async (c) => {
      const client = c as unknown as ReturnType<typeof createClient>;
      if (client.isOpen) client.destroy();
    },
    at: async (at) => {
      const client = createClient({ url: at, socket: { reconnectStrategy: () => 100 } });
      client.on('error', () => {});
      await client.connect();
      return client;
    },
  },
  {
    name: 'node-redis Cluster',
    family: 'node-redis',
    cluster: true,
    enabled: redis.clusterNodes.length > 0,
    open: async () => {
      const cluster = createCluster({ rootNodes: redis.clusterNodes.map((node) => ({ url: `redis://${node}` })) });
      cluster.on('error', () => {});
      await cluster.connect();
      return cluster;
    },
    close: async (c) => {
      await (c as unknown as ReturnType<typeof createCluster>).close();
    },
  },
  {
    name: 'Valkey GLIDE',
    family: 'valkey-glide',
    cluster: false,
    enabled: redis.server,
    open: () => GlideClient.createClient({ addresses: [{ host, port }] }),
    close: async (c) => (c as GlideClient).close(),
    at: (at) => {
      const u = new URL(at);
      return GlideClient.createClient({ addresses: [{ host: u.hostname, port: Number(u.port) }] });
    },
  },
  {
    name: 'Valkey GLIDE Cluster',
    family: 'valkey-glide',
    cluster: true,
    enabled: redis.clusterNodes.length > 0,
    open: () => GlideClusterClient.createClient({ addresses: clusterAddresses() }),
    close: async (c) => (c as GlideClusterClient).close(),
  },
];

/** An ioredis admin client for the server or cluster a kind runs on, to look at keys whoever wrote them. */
export async function adminFor(kind: ClientKind): Promise<Redis | Cluster> {
  return kind.cluster ? clusterClient() : new Redis(REDIS_URL);
}

/** Every key matching `pattern`, on every master of a cluster. */
export async function keysOf(admin: Redis | Cluster, pattern: string): Promise<string[]> {
  if (admin instanceof Cluster) {
    return (await Promise.all(admin.nodes('master').map((node) => node.keys(pattern)))).flat();
  }
  return admin.keys(pattern);
}
