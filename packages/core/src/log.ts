/**
 * Where tollgate writes its log lines. The shape is pino's (`log.warn(fields, message)`), so a
 * Fastify `request.log`, a pino or a bunyan logger can be passed as it is.
 */
export interface Logger {
  /** Detail nobody needs in production (a circuit probe); optional. */
  debug?(fields: object, message: string): void;
  /** A normal event worth a line. */
  info(fields: object, message: string): void;
  /** Something degraded but handled, such as a store recovering. */
  warn(fields: object, message: string): void;
  /** A failure that needs attention, such as a store failing. */
  error(fields: object, message: string): void;
}

/** The default: warnings and errors to stderr, nothing else. */
export const consoleLogger: Logger = {
  info() {},
  warn(fields, message) {
    console.warn(`[tollgate] ${message}`, fields);
  },
  error(fields, message) {
    console.error(`[tollgate] ${message}`, fields);
  },
};

/** Whether `value` has the `info`, `warn` and `error` methods of a `Logger` (pino, console-like). */
export function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.info === 'function' && typeof v.warn === 'function' && typeof v.error === 'function';
}
