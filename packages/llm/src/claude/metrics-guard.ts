import { consoleLogger } from '@tollgate/core';

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
