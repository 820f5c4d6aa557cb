/** What a caller passed where a handler belongs, for an error message: its kind, never its contents. */
export function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
