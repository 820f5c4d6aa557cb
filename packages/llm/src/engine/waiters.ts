import { type Decision, type Policy, RateLimitExceededError } from '@tollgate/core';

/**
 * The longest a waiter sleeps before asking the store again. Tokens given back in this process
 * wake a waiter at once; tokens given back by another process sharing the store (or refilled
 * faster than the refusal said, after a learned reset) are seen within this long. One store
 * call a second per waiting family and process: no pub/sub connection to hold open.
 */
export const POLL_MS = 1_000;

interface Waiter {
  /** Resolves the current sleep or turn early. */
  wake: (() => void) | undefined;
  /** Woken while not asleep: the next sleep returns at once. */
  woken: boolean;
}

/**
 * One family's calls waiting for room in its buckets, in arrival order. Only the first in line
 * asks the store; the others wait for their turn, so a later call cannot take the tokens an
 * earlier one is waiting for. `settled()` (a reservation's tokens came back, some or all)
 * wakes the first at once.
 */
export class FamilyLine {
  private readonly line: Waiter[] = [];
  /** What reservations of this family admitted in this process and not yet settled hold, per bucket. */
  private readonly held: number[] = [];
  /** The refusal the first in line last saw: what a waiter whose deadline passes reports. */
  lastRefusal: Decision | undefined;

  /** Nobody is waiting: a new call may ask the store straight away. */
  get empty(): boolean {
    return this.line.length === 0;
  }

  isFirst(waiter: Waiter): boolean {
    return this.line[0] === waiter;
  }

  /** A reservation took `costs`. */
  hold(costs: readonly number[]): void {
    costs.forEach((cost, i) => {
      this.held[i] = (this.held[i] ?? 0) + cost;
    });
  }

  /** A reservation settled: its tokens came back, some or all; the first in line asks again now. */
  release(costs: readonly number[]): void {
    costs.forEach((cost, i) => {
      this.held[i] = Math.max(0, (this.held[i] ?? 0) - cost);
    });
    this.wakeFirst();
  }

  /**
   * Whether every bucket short of `costs` by the deadline (`left` ms of refill) could cover it
   * if what this process holds came back: then waiting for settlements is worth it.
   */
  couldCover(policies: readonly Policy[], tokens: readonly number[], costs: readonly number[], left: number): boolean {
    return policies.every((policy, i) => {
      const atDeadline = Math.min(policy.capacity, (tokens[i] ?? policy.capacity) + policy.ratePerMs * left);
      return atDeadline + (this.held[i] ?? 0) >= (costs[i] ?? 0);
    });
  }

  join(): Waiter {
    const waiter: Waiter = { wake: undefined, woken: false };
    this.line.push(waiter);
    return waiter;
  }

  /** Leaves the line (admitted, refused or failed); the next in line, if any, gets its turn now. */
  leave(waiter: Waiter): void {
    const i = this.line.indexOf(waiter);
    if (i < 0) return;
    this.line.splice(i, 1);
    if (i === 0) this.wakeFirst();
  }

  /** Waits until `waiter` is first in line, or throws at `deadline` with the last refusal. */
  async turn(waiter: Waiter, deadline: number): Promise<void> {
    while (this.line[0] !== waiter) {
      const left = deadline - Date.now();
      if (left <= 0) throw this.refused();
      await this.pause(waiter, left);
    }
  }

  /** Sleeps up to `ms`, or until woken. */
  sleep(waiter: Waiter, ms: number): Promise<void> {
    return this.pause(waiter, ms);
  }

  refused(): RateLimitExceededError {
    // A waiter behind the first one saw no refusal of its own: the first one's is the line's.
    const decision = this.lastRefusal ?? { allowed: false, limit: 0, remaining: 0, resetMs: 0, retryAfterMs: 1000 };
    return new RateLimitExceededError(decision as Decision);
  }

  private pause(waiter: Waiter, ms: number): Promise<void> {
    if (waiter.woken) {
      waiter.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        waiter.wake = undefined;
        resolve();
      }
      waiter.wake = done;
    });
  }

  private wakeFirst(): void {
    const first = this.line[0];
    if (first === undefined) return;
    if (first.wake !== undefined) first.wake();
    else first.woken = true;
  }
}

/** Each family's line, made on first use. */
export class WaitLines {
  private readonly lines = new Map<string, FamilyLine>();

  of(family: string): FamilyLine {
    let line = this.lines.get(family);
    if (line === undefined) {
      line = new FamilyLine();
      this.lines.set(family, line);
    }
    return line;
  }
}
