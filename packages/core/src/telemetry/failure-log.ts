import { consoleLogger, type Logger } from '../log.js';

/**
 * Telemetry must never break a request, so its failures are caught and logged instead; each kind
 * of failure is logged once, because a bug that hits every request would otherwise flood the log.
 */
export class FailureLog {
  private readonly reported = new Set<string>();

  constructor(private readonly logger: Logger = consoleLogger) {}

  report(where: string, error: unknown): void {
    if (this.reported.has(where)) return;
    this.reported.add(where);
    try {
      this.logger.error(
        { where, error: error instanceof Error ? error.message : String(error) },
        'telemetry failed; requests go on without it (logged once)',
      );
    } catch {
      // A throwing logger must not turn a telemetry failure into a request failure.
    }
  }
}

/** For the module-level helpers, which have no logger of their own. */
export const defaultFailureLog = new FailureLog();
