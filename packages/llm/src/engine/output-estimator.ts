import type { LlmProvider } from './provider.js';
import type { Reservation } from './types.js';

/**
 * A running typical output per model: an exponentially weighted mean of real output counts,
 * so output is reserved at what calls usually produce rather than always at `max_tokens`.
 */
export class OutputEstimator {
  private readonly means = new Map<string, number>();

  constructor(private readonly initial = 1024) {}

  /** Tokens to reserve for a call: the typical output, never above the call's `max_tokens`. */
  reserve(model: string, maxTokens: number | undefined): number {
    const typical = Math.ceil(this.means.get(model) ?? this.initial);
    return maxTokens === undefined ? typical : Math.min(maxTokens, typical);
  }

  observe(model: string, outputTokens: number): void {
    const mean = this.means.get(model);
    this.means.set(model, mean === undefined ? outputTokens : mean * 0.8 + outputTokens * 0.2);
  }
}

/**
 * A correction of input estimates per family, learned from settled calls: an exponentially
 * weighted mean of reported ÷ estimated input. It only ever raises an estimate (the factor is
 * at least 1: a reservation that errs high is given back at settlement, one that errs low lets
 * calls through that the API then refuses) and at most `ceiling` times, so one odd call cannot
 * make every later one wait.
 */
export class InputCorrection {
  private readonly ratios = new Map<string, number>();

  constructor(
    private readonly ceiling = 4,
    private readonly weight = 0.2,
  ) {}

  /** The estimate, corrected by what the family's calls have reported so far. */
  correct(family: string, estimate: number): number {
    // Less a hair, so a factor of 1.5 that floating point holds as 1.5000000001 gives 1,500, not 1,501.
    return Math.ceil(estimate * this.factor(family) - 1e-9);
  }

  factor(family: string): number {
    return Math.min(this.ceiling, Math.max(1, this.ratios.get(family) ?? 1));
  }

  /** A settled call: it was estimated at `estimated` input tokens and the API reported `reported`. */
  observe(family: string, estimated: number, reported: number): void {
    if (!(estimated > 0) || !Number.isFinite(reported) || reported < 0) return;
    // Each ratio bounded too, so the mean can come back within a few calls.
    const ratio = Math.min(this.ceiling * 2, reported / estimated);
    const mean = this.ratios.get(family);
    this.ratios.set(family, mean === undefined ? ratio : mean * (1 - this.weight) + ratio * this.weight);
  }
}

/**
 * The reservation, settling as before, and teaching `correction` what the call reported against
 * what was `estimated` for it (nothing to learn when the caller gave the input count).
 */
export function learningFrom<R extends Reservation>(
  reservation: R,
  correction: InputCorrection,
  family: string,
  estimated: number | undefined,
  provider: Pick<LlmProvider, 'tokenCounts' | 'rateLimitedInput'>,
): R {
  if (estimated === undefined) return reservation;
  let learned = false;
  return {
    ...reservation,
    settle: async (usage?: unknown, headers?: unknown) => {
      await reservation.settle(usage, headers);
      // A reservation settles once: a second settle() does nothing, and teaches nothing.
      if (usage === undefined || learned) return;
      learned = true;
      try {
        const tokens = provider.tokenCounts(usage);
        // A cached call is left out: whether its prefix was read or written again is the cache's
        // doing, not the estimate's, and one miss would make the ratio jump.
        if (tokens.cacheRead + tokens.cacheWrite5m + tokens.cacheWrite1h > 0) return;
        correction.observe(family, estimated, provider.rateLimitedInput(tokens));
      } catch {
        // Malformed usage was refused by the settlement above; nothing to learn from it.
      }
    },
  };
}
