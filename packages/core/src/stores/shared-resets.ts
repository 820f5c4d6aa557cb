import type { RedisConnection } from './redis-clients/connection.js';
import { type RedisSubscriberLike, ResetChannel } from './reset-channel.js';

/** What a store hears from the shared subscription. */
export interface ResetListener {
  /** A reset of `key` was announced. */
  onReset(key: string): void;
  /** The subscription was lost: anything learned before may be stale. */
  onLost(): void;
  /** The subscription failed. */
  onError(error: unknown): void;
}

/** A store's membership: the shared channel, and how to leave it. */
export interface ResetMembership {
  readonly channel: ResetChannel;
  leave(): void;
}

/**
 * One reset subscription per client, however many stores share the client: a hundred stores (or
 * a store per limiter built in a loop) on one ioredis client open one subscriber connection and
 * put one `end` listener on the client, not a hundred (which also set off Node's
 * MaxListenersExceededWarning at eleven). The last store to leave closes the subscription.
 *
 * Members are held weakly (each store holds its listener): a store dropped without `close()`
 * is collected, not kept alive by the client it used.
 */
class SharedResets {
  private readonly members = new Set<WeakRef<ResetListener>>();
  readonly channel: ResetChannel;
  /** Removes the listener on the client's end, when the last store leaves first. */
  private readonly stopWatchingEnd: () => void;

  constructor(
    private readonly client: RedisConnection,
    open: () => RedisSubscriberLike,
  ) {
    this.channel = new ResetChannel(
      open,
      (key) => {
        for (const member of this.live()) member.onReset(key);
      },
      () => {
        for (const member of this.live()) member.onLost();
      },
      // One report per failure, through the oldest member (stores on one client share its trouble).
      (error) => this.live()[0]?.onError(error),
    );
    // Closing the client closes its subscriber connection too.
    this.stopWatchingEnd = client.onEnd?.(() => this.channel.close()) ?? (() => {});
  }

  join(member: ResetListener): ResetMembership {
    const ref = new WeakRef(member);
    this.members.add(ref);
    return {
      channel: this.channel,
      leave: () => {
        if (!this.members.delete(ref) || this.live().length > 0) return;
        shared.delete(this.client);
        this.stopWatchingEnd();
        this.channel.close();
      },
    };
  }

  /** The members still alive, oldest first; collected ones are dropped on the way. */
  private live(): ResetListener[] {
    const live: ResetListener[] = [];
    for (const ref of this.members) {
      const member = ref.deref();
      if (member === undefined) this.members.delete(ref);
      else live.push(member);
    }
    return live;
  }
}

const shared = new WeakMap<RedisConnection, SharedResets>();

/** Joins the reset subscription of `client`, creating it (not yet opened) for its first store. */
export function joinResets(
  client: RedisConnection,
  open: () => RedisSubscriberLike,
  member: ResetListener,
): ResetMembership {
  let resets = shared.get(client);
  if (resets === undefined) {
    resets = new SharedResets(client, open);
    shared.set(client, resets);
  }
  return resets.join(member);
}
