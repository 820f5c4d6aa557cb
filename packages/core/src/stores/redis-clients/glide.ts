import type { RedisConnection } from './connection.js';
import { hashReply } from './connection.js';

/** The few methods of a Valkey GLIDE `GlideClient` or `GlideClusterClient` that tollgate uses. */
export interface GlideClientLike {
  /**
   * Sends a raw command. A cluster client routes it by `options.route`; a standalone client's
   * options (a decoder) do not include one, hence the loose type.
   */
  customCommand(args: string[], options?: object): Promise<unknown>;
  /** Closes the client at once. */
  close(): void;
}

/** A GLIDE client (standalone or cluster): `customCommand` is GLIDE's alone. */
export function isGlide(value: object): value is GlideClientLike {
  const v = value as Record<string, unknown>;
  return typeof v.customCommand === 'function' && typeof v.close === 'function';
}

/**
 * A Valkey GLIDE client. GLIDE reconnects and resubscribes by itself and tells nobody when it
 * lost a connection, so a reset announced meanwhile could be missed unseen: no reset subscriber
 * is offered, and a store on GLIDE keeps no denial cache (it still announces its resets).
 */
export function glideConnection(client: GlideClientLike): RedisConnection {
  // To the primary of the key's slot, reads included: with `readFrom` set to a replica, a usage
  // read could otherwise come from a replica that lacks the write just made.
  const send = (key: string | undefined, args: string[]) =>
    key === undefined
      ? client.customCommand(args)
      : client.customCommand(args, { route: { type: 'primarySlotKey', key } });
  const script = (command: string, body: string, keys: readonly string[], args: readonly string[]) =>
    send(keys[0], [command, body, String(keys.length), ...keys, ...args]);
  return {
    family: 'valkey-glide',
    // Only a GlideClusterClient routes functions by node.
    cluster: typeof (client as { fcallWithRoute?: unknown }).fcallWithRoute === 'function',
    evalsha: (sha, keys, args) => script('EVALSHA', sha, keys, args),
    eval: (source, keys, args) => script('EVAL', source, keys, args),
    del: async (key) => Number(await send(key, ['DEL', key])),
    hgetall: async (key) => hashReply(await send(key, ['HGETALL', key])),
    publish: async (channel, message) => {
      await send(undefined, ['PUBLISH', channel, message]);
    },
    // `isClosed` is GLIDE's own flag (protected in its types, there at run time).
    state: () => ((client as { isClosed?: unknown }).isClosed === true ? 'ended' : 'ready'),
    quit: async () => client.close(),
    disconnect: () => client.close(),
  };
}
