import type { Decision } from './decision.js';

/** What a request that was let wait got: the decision, and how long it waited for it. */
export interface Waited {
  readonly decision: Decision;
  /** Milliseconds the request waited (0 when admitted or refused at once). */
  readonly delayMs: number;
  /** True when the caller's signal aborted the wait (the client went away): nothing was taken. */
  readonly aborted: boolean;
}

interface Waiter {
  readonly attempt: () => Decision | Promise<Decision>;
  /** Gives back what an attempt took for a caller that left meanwhile. */
  readonly giveBack: (decision: Decision) => void;
  readonly started: number;
  readonly deadline: number;
  last: Decision;
  settled: boolean;
  attempting: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve(waited: Waited): void;
  detach(): void;
}

/**
 * Requests that wait for a token instead of being refused (`slowDown`), in line per key in this
 * process. Only the first in line is timed: it waits until the bucket should have the tokens
 * (the refusal's `retryAfterMs`), then asks the store; admitted, the next in line asks at once.
 * Nobody holds a token while waiting (tokens are taken only by the attempt that is admitted), a
 * request whose wait would pass `maxDelayMs` is refused then (or at once, when the first refusal
 * already says so), and a caller whose signal aborts (a client that disconnected) leaves the line
 * and gives its place to the next.
 */
export class Waiters {
  private readonly lines = new Map<string, Waiter[]>();
  private readonly clock: () => number;

  constructor(clock: () => number = () => performance.now()) {
    this.clock = clock;
  }

  /** Requests waiting now, over every key. */
  get size(): number {
    let n = 0;
    for (const line of this.lines.values()) n += line.length;
    return n;
  }

  wait(
    key: string,
    attempt: () => Decision | Promise<Decision>,
    giveBack: (decision: Decision) => void,
    maxDelayMs: number,
    signal?: AbortSignal,
  ): Promise<Waited> {
    const started = this.clock();
    const line = this.lines.get(key);
    if (line !== undefined && line.length > 0) {
      // Someone is already waiting for this key: no overtaking.
      return this.enqueue(key, (line[line.length - 1] as Waiter).last, attempt, giveBack, started, maxDelayMs, signal);
    }
    return Promise.resolve(attempt()).then((decision) => {
      if (signal?.aborted === true) {
        if (decision.allowed) giveBack(decision);
        return { decision, delayMs: 0, aborted: true };
      }
      if (decision.allowed || decision.source === 'closed' || decision.retryAfterMs > maxDelayMs) {
        return { decision, delayMs: 0, aborted: false };
      }
      return this.enqueue(key, decision, attempt, giveBack, started, maxDelayMs, signal);
    });
  }

  private enqueue(
    key: string,
    last: Decision,
    attempt: () => Decision | Promise<Decision>,
    giveBack: (decision: Decision) => void,
    started: number,
    maxDelayMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Waited> {
    return new Promise<Waited>((resolve) => {
      let line = this.lines.get(key);
      if (line === undefined) {
        line = [];
        this.lines.set(key, line);
      }
      const waiters = line;
      const onAbort = () => {
        if (waiter.settled || waiter.attempting) return;
        this.leave(key, waiter, { decision: waiter.last, delayMs: this.elapsed(waiter), aborted: true });
      };
      const waiter: Waiter = {
        attempt,
        giveBack,
        started,
        deadline: started + maxDelayMs,
        last,
        settled: false,
        attempting: false,
        timer: undefined,
        resolve,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.push(waiter);
      if (waiters.length === 1) this.step(key);
      else {
        // Not first in line: refused when its time is up, unless it has reached the front by then.
        waiter.timer = setTimeout(() => {
          if (waiters[0] !== waiter && !waiter.settled) this.leave(key, waiter, this.refusal(waiter));
        }, maxDelayMs);
        waiter.timer.unref?.();
      }
    });
  }

  /** Times the first in line: an attempt when its tokens should be there, or a refusal at its deadline. */
  private step(key: string): void {
    const line = this.lines.get(key);
    const head = line?.[0];
    if (line === undefined || head === undefined) {
      this.lines.delete(key);
      return;
    }
    if (head.timer !== undefined) clearTimeout(head.timer);
    const wait = head.last.allowed ? 0 : head.last.retryAfterMs;
    if (this.clock() + wait > head.deadline) {
      this.leave(key, head, this.refusal(head));
      return;
    }
    head.timer = setTimeout(() => this.tryHead(key, head), wait);
  }

  private tryHead(key: string, head: Waiter): void {
    head.timer = undefined;
    head.attempting = true;
    let pending: Decision | Promise<Decision>;
    try {
      pending = head.attempt();
    } catch (error) {
      head.attempting = false;
      this.leave(key, head, this.refusal(head));
      throw error;
    }
    Promise.resolve(pending).then(
      (decision) => {
        head.attempting = false;
        if (head.settled) {
          if (decision.allowed) head.giveBack(decision);
          return;
        }
        if (decision.allowed) {
          // The next in line asks at once: the tokens may already be there.
          const next = this.lines.get(key)?.[1];
          if (next !== undefined) next.last = decision;
          this.leave(key, head, { decision, delayMs: this.elapsed(head), aborted: false });
          return;
        }
        head.last = decision;
        this.step(key);
      },
      () => {
        head.attempting = false;
        this.leave(key, head, this.refusal(head));
      },
    );
  }

  /** Takes `waiter` out of its line with `waited`, and times whoever is first in line now. */
  private leave(key: string, waiter: Waiter, waited: Waited): void {
    if (waiter.settled) return;
    waiter.settled = true;
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    waiter.detach();
    const line = this.lines.get(key);
    if (line !== undefined) {
      const at = line.indexOf(waiter);
      if (at >= 0) line.splice(at, 1);
      if (at === 0) this.step(key);
      else if (line.length === 0) this.lines.delete(key);
    }
    waiter.resolve(waited);
  }

  private refusal(waiter: Waiter): Waited {
    const decision = waiter.last.allowed ? { ...waiter.last, allowed: false } : waiter.last;
    return { decision, delayMs: this.elapsed(waiter), aborted: false };
  }

  private elapsed(waiter: Waiter): number {
    return Math.max(0, Math.round(this.clock() - waiter.started));
  }
}
