/** The Pub/Sub channel on which a reset announces the Redis key it deleted. */
export const RESET_CHANNEL = 'tollgate:reset';

/** What the store needs of the subscriber connection: an ioredis `Redis` or `Cluster` duplicate. */
export interface RedisSubscriberLike {
  /** Subscribes to a channel; settles once the server confirms. */
  subscribe(channel: string): Promise<unknown>;
  /** Listens for `message`, `error` and `close`. */
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  /** Closes the connection at once. */
  disconnect(): void;
}

/**
 * One subscriber connection on `RESET_CHANNEL`, opened on first use. `ready` is true only while
 * the subscription is confirmed: a reset announced while it is not could be missed, so whatever
 * was learned before (the cached refusals) is thrown away when the connection drops, and
 * `generation` counts every announcement and loss, so a refusal whose call overlapped one is not
 * kept.
 */
export class ResetChannel {
  ready = false;
  generation = 0;
  private subscriber: RedisSubscriberLike | undefined;
  private closed = false;

  constructor(
    private readonly open: () => RedisSubscriberLike,
    private readonly onReset: (key: string) => void,
    private readonly onLost: () => void,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Counts a change the caller makes itself (a reset): refusals in flight across it are not kept. */
  invalidate(): void {
    this.generation += 1;
  }

  /** Opens the subscriber if it is not open yet (again, after a loss). */
  start(): void {
    if (this.subscriber !== undefined || this.closed) return;
    const subscriber = this.open();
    this.subscriber = subscriber;
    subscriber.on('message', (channel, message) => {
      if (channel !== RESET_CHANNEL || typeof message !== 'string') return;
      this.generation += 1;
      this.onReset(message);
    });
    subscriber.on('error', (error) => this.failed(error));
    // A loss drops the connection: the next refusal opens a new one, on a live node.
    subscriber.on('close', () => {
      if (this.subscriber !== subscriber) return;
      this.subscriber = undefined;
      this.lost();
      subscriber.disconnect();
    });
    this.subscribe(subscriber);
  }

  /** Closes the subscriber connection; the channel is never reopened. */
  close(): void {
    this.closed = true;
    this.lost();
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private subscribe(subscriber: RedisSubscriberLike): void {
    const generation = this.generation;
    subscriber.subscribe(RESET_CHANNEL).then(
      () => {
        // Confirmed only if nothing was lost meanwhile.
        if (!this.closed && this.subscriber === subscriber && this.generation === generation) this.ready = true;
      },
      (error: unknown) => {
        this.failed(error);
        this.lost();
      },
    );
  }

  /** Reports a failure, unless it is the channel being closed on purpose. */
  private failed(error: unknown): void {
    if (!this.closed) this.onError(error);
  }

  private lost(): void {
    this.generation += 1;
    if (!this.ready) return;
    this.ready = false;
    this.onLost();
  }
}
