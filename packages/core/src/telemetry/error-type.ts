/** The semconv value for an error of no recognisable type. */
export const OTHER_ERROR_TYPE = '_OTHER';

/**
 * `error.type` for a thrown value: its class name (`TypeError`, `StoreUnavailableError`), which
 * is low-cardinality enough for a metric label; `_OTHER` for anything that is not an `Error`.
 * Never throws, even for an error with hostile getters: it runs on the request path.
 */
export function errorType(error: unknown): string {
  try {
    if (!(error instanceof Error)) return OTHER_ERROR_TYPE;
    const className = error.constructor?.name;
    if (typeof className === 'string' && className !== '' && className !== 'Object') return className;
    return typeof error.name === 'string' && error.name !== '' ? error.name : OTHER_ERROR_TYPE;
  } catch {
    return OTHER_ERROR_TYPE;
  }
}

/** What `span.recordException` accepts, from any thrown value. */
export function asException(error: unknown): Error | string {
  return error instanceof Error ? error : String(error);
}
