/**
 * Prometheus names from OpenTelemetry-style names (`db.query.duration`), the way the
 * OpenTelemetry Collector would write them: every character outside `[a-zA-Z0-9_]` becomes `_`
 * (colons too: they are reserved for recording rules), runs of `_` collapse to one, leading and
 * trailing `_` go (so a label name never starts with the reserved `__`), and a leading digit gets
 * a `_` prefix. Metric and label names follow the same rules. An empty result is returned as `''`.
 */
export function prometheusName(raw: string): string {
  const name = raw
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** `name` with `suffix` appended once, even if the caller already wrote it. */
export function withSuffix(name: string, suffix: string, alsoStrip: readonly string[] = []): string {
  for (const s of [suffix, ...alsoStrip]) {
    if (name.endsWith(s) && name.length > s.length) return `${name.slice(0, -s.length)}${suffix}`;
  }
  return `${name}${suffix}`;
}
