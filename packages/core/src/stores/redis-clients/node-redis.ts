import { EventEmitter } from 'node:events';
import type { RedisSubscriberLike } from '../reset-channel.js';
import type { RedisConnection } from './connection.js';
import { hashReply } from './connection.js';

/** A listener of a node-redis client's events (`error`, `end`, `reconnecting`, …). */
type Listener = (...args: unknown[]) => void;

/** The few methods of a node-redis (v5, v6) client, from `createClient()`, that tollgate uses. */
export interface NodeRedisClientLike {
  /** True from `connect()` until `close()`/`destroy()`, reconnections included. */
  readonly isOpen: boolean;
  /** True while connected and ready for commands. */
  readonly isReady: boolean;
  /** Sends a raw command: `['EVALSHA', sha, '1', key, …]`. */
  sendCommand(args: string[]): Promise<unknown>;
  /** A new, unconnected client with the same options (the reset subscriber). */
  duplicate(): NodeRedisClientLike;
  /** Connects (the store connects only the subscriber it duplicates; the caller connects the client). */
  connect(): Promise<unknown>;
  /** Subscribes; the listener gets each message and its channel. */
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  /** Closes after the replies in flight (the store's own subscriber, on `store.close()`). */
  close(): Promise<unknown>;
  /** Closes at once (when `close()` does not end within the store's timeout). */
  destroy(): void;
  /** Listens for `error` and `end`, so a lost subscription is seen. */
  on(event: string, listener: Listener): unknown;
  /** Removes such a listener. */
  off(event: string, listener: Listener): unknown;
}

/** The few methods of a node-redis cluster, from `createCluster()`, that tollgate uses. */
export interface NodeRedisClusterLike {
  /** True from `connect()` until `close()`/`destroy()`. */
  readonly isOpen: boolean;
  /** True while connected and ready for commands. */
  readonly isReady: boolean;
  /** Sends a raw command to the node serving `firstKey` (any node without one). */
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  /** The master nodes; a plain connection to one of them carries the reset subscription. */
  readonly masters: readonly object[];
  /** The client of one node of `masters`. */
  nodeClient(node: never): Promise<NodeRedisClientLike>;
  /** Closes after the replies in flight (the store's own subscriber, on `store.close()`). */
  close(): Promise<unknown>;
  /** Closes at once (when `close()` does not end within the store's timeout). */
  destroy(): void;
  /** Listens for `error` and `end`, so a lost subscription is seen. */
  on(event: string, listener: Listener): unknown;
  /** Removes such a listener. */
  off(event: string, listener: Listener): unknown;
}

function hasNodeRedisState(v: Record<string, unknown>): boolean {
  return typeof v.isOpen === 'boolean' && typeof v.isReady === 'boolean' && typeof v.sendCommand === 'function';
}

/** A node-redis cluster: its `masters` and `nodeClient` tell it from a client. */
export function isNodeRedisCluster(value: object): value is NodeRedisClusterLike {
  const v = value as Record<string, unknown>;
  return hasNodeRedisState(v) && typeof v.nodeClient === 'function' && 'masters' in v;
}

/** A node-redis client (`createClient()`). */
export function isNodeRedisClient(value: object): value is NodeRedisClientLike {
  const v = value as Record<string, unknown>;
  return hasNodeRedisState(v) && typeof v.duplicate === 'function' && typeof v.subscribe === 'function';
}

/**
 * A node-redis client or cluster. The caller connects it (`await client.connect()`); until then,
 * and once it is closed, every call fails at once (`STORE_UNAVAILABLE`).
 */
export function nodeRedisConnection(client: NodeRedisClientLike | NodeRedisClusterLike): RedisConnection {
  const cluster = isNodeRedisCluster(client);
  // Every command goes to a master (isReadonly false), even a read: with `useReplicas` a replica
  // could answer a usage read from before the write the caller just made.
  const send = (key: string | undefined, args: string[]): Promise<unknown> =>
    cluster ? client.sendCommand(key, false, args) : (client as NodeRedisClientLike).sendCommand(args);
  const script = (command: string, body: string, keys: readonly string[], args: readonly string[]) =>
    send(keys[0], [command, body, String(keys.length), ...keys, ...args]);
  return {
    family: 'node-redis',
    cluster,
    evalsha: (sha, keys, args) => script('EVALSHA', sha, keys, args),
    eval: (source, keys, args) => script('EVAL', source, keys, args),
    del: async (key) => Number(await send(key, ['DEL', key])),
    hgetall: async (key) => hashReply(await send(key, ['HGETALL', key])),
    publish: async (channel, message) => {
      await send(undefined, ['PUBLISH', channel, message]);
    },
    state: () => (client.isReady ? 'ready' : client.isOpen ? 'down' : 'ended'),
    subscriber: () =>
      new NodeRedisSubscriber(
        cluster ? () => nodeOfCluster(client) : async () => (client as NodeRedisClientLike).duplicate(),
      ),
    onEnd: (listener) => {
      // A client says `end` when closed; a cluster, `disconnect`.
      const event = cluster ? 'disconnect' : 'end';
      const once = () => {
        client.off(event, once);
        listener();
      };
      client.on(event, once);
      return () => client.off(event, once);
    },
    quit: async () => {
      await client.close();
    },
    disconnect: () => client.destroy(),
  };
}

/** A plain connection to one master of the cluster, picked at random, whose loss is seen (as with ioredis). */
async function nodeOfCluster(cluster: NodeRedisClusterLike): Promise<NodeRedisClientLike> {
  const master = cluster.masters[Math.floor(Math.random() * cluster.masters.length)];
  if (master === undefined) throw new Error('The node-redis cluster lists no master node');
  return (await cluster.nodeClient(master as never)).duplicate();
}

/**
 * The reset subscriber on node-redis, in the shape the reset channel reads: `message`, `error`,
 * and `close` when the connection drops (node-redis would reconnect and resubscribe on its own,
 * but messages sent meanwhile are lost: the channel must hear of the loss, so the connection is
 * dropped and the next refusal opens a new one).
 */
class NodeRedisSubscriber extends EventEmitter implements RedisSubscriberLike {
  private client: NodeRedisClientLike | undefined;
  private closed = false;

  constructor(private readonly open: () => Promise<NodeRedisClientLike>) {
    super();
    // An `error` with no listener would throw; the reset channel listens, but not before start().
    this.on('error', () => {});
  }

  async subscribe(channel: string): Promise<unknown> {
    const client = await this.open();
    if (this.closed) throw new Error('The reset subscriber was closed');
    this.client = client;
    client.on('error', (error: unknown) => this.emit('error', error));
    const lost = () => this.emit('close');
    client.on('reconnecting', lost);
    client.on('end', lost);
    await client.connect();
    return client.subscribe(channel, (message, from) => this.emit('message', from, message));
  }

  disconnect(): void {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    if (client?.isOpen === true) client.destroy();
  }
}
