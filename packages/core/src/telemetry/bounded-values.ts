/** The label value that stands for every value past a cap. */
export const OVERFLOW_LABEL = '_OVERFLOW';

/**
 * Remembers up to `max` distinct values and refuses new ones after that, so a label fed from
 * input the app does not control still yields a bounded number of series.
 */
export class BoundedValues {
  private readonly seen = new Set<string>();

  constructor(readonly max: number) {}

  /** Whether `value` is, or now becomes, one of the remembered values. */
  admit(value: string): boolean {
    if (this.seen.has(value)) return true;
    if (this.seen.size >= this.max) return false;
    this.seen.add(value);
    return true;
  }

  /** `value` itself while it fits under the cap, else `OVERFLOW_LABEL`. */
  label(value: string): string {
    return this.admit(value) ? value : OVERFLOW_LABEL;
  }
}
