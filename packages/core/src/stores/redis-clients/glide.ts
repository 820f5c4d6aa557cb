import type { RedisConnection } from './connection.js';
import { hashReply } from './connection.js';

/** The few methods of a Valkey GLIDE `GlideClient` or `GlideClusterClient` that tollgate uses. */
export interface GlideClientLike {
  /** Sends a raw command; on a cluster GLIDE routes it by its key. */
  customCommand(args: string[]): Promise<unknown>;
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
  const send = (args: string[]) => client.customCommand(args);
  return {
    family: 'valkey-glide',
    evalsha: (sha, keys, args) => send(['EVALSHA', sha, String(keys.length), ...keys, ...args]),
    eval: (script, keys, args) => send(['EVAL', script, String(keys.length), ...keys, ...args]),
    del: async (key) => Number(await send(['DEL', key])),
    hgetall: async (key) => hashReply(await send(['HGETALL', key])),
    publish: async (channel, message) => {
      await send(['PUBLISH', channel, message]);
    },
    // `isClosed` is GLIDE's own flag (protected in its types, there at run time).
    state: () => ((client as { isClosed?: unknown }).isClosed === true ? 'ended' : 'ready'),
    quit: async () => client.close(),
    disconnect: () => client.close(),
  };
}
