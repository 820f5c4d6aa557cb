/**
 * At most one log line per kind of trouble every `intervalMs`, so a Redis that stays away (ioredis
 * reports every reconnection attempt) writes a line now and then, not one per attempt. A later
 * line says how many were held back since the previous one, and another kind of trouble (an ACL
 * refusal after a connection loss) is never held back by the first.
 */
export class Throttle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    readonly intervalMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** How many lines of `kind` were held back since the last one, if one may be written now; else undefined. */
  take(kind: string): number | undefined {
    const now = this.clock();
    const entry = this.last.get(kind);
    if (entry !== undefined && now - entry.at < this.intervalMs) {
      entry.suppressed += 1;
      return undefined;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(kind, { at: now, suppressed: 0 });
    return suppressed;
  }
}
