import { createRequire } from 'node:module';
import { consoleLogger, register } from '@tollgate/core';
import { OVERFLOW_LABEL } from '@tollgate/core/adapter';
import type * as PromClient from 'prom-client';
import type { Metric } from 'prom-client';

/**
 * prom-client is an optional peer: looked up when the first ClaudeRateLimiter is built, never at
 * import. Without it, nothing is recorded (nobody could scrape it either) and calls go on.
 */
const load = createRequire(import.meta.url);
let prom: typeof PromClient | null | undefined;

function promClientIfInstalled(): typeof PromClient | undefined {
  if (prom === undefined) {
    try {
      prom = load('prom-client') as typeof PromClient;
    } catch (error) {
      const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
      // Only "not installed": a broken install must not pass for a missing one.
      if (code !== 'MODULE_NOT_FOUND' || typeof message !== 'string' || !message.includes("'prom-client'")) throw error;
      prom = null;
    }
  }
  return prom ?? undefined;
}

/**
 * A metric family made on first use and added to tollgate's registry (`register` of
 * @tollgate/core, which every tollgate metric lives in) then: importing registers nothing.
 */
export function lazyFamily<T extends Metric>(build: (prom: typeof PromClient) => T): () => T | undefined {
  let made: T | undefined;
  let tried = false;
  return () => {
    if (!tried) {
      tried = true;
      const found = promClientIfInstalled();
      if (found !== undefined) {
        made = build(found);
        register.registerMetric(made);
      }
    }
    return made;
  };
}

/** Up to `max` distinct label values; any further one is core's `OVERFLOW_LABEL`, so series stay bounded. */
export class BoundedValues {
  private readonly seen = new Set<string>();

  constructor(readonly max: number) {}

  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return OVERFLOW_LABEL;
    this.seen.add(value);
    return value;
  }
}

const reported = new Set<string>();

/** Metrics never break a call: a failure is caught and logged once per kind. */
export function guard(what: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (reported.has(what)) return;
    reported.add(what);
    try {
      consoleLogger.error(
        { where: what, error: error instanceof Error ? error.message : String(error) },
        'telemetry failed; requests go on without it (logged once)',
      );
    } catch {
      // A throwing logger must not turn a telemetry failure into a call failure.
    }
  }
}
