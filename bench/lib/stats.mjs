// Medians and ranges of repeated measurements.

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** { median, min, max, n } of the finite values. */
export function summary(values) {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { median: undefined, min: undefined, max: undefined, n: 0 };
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

export function fmt(x, digits = 1) {
  return x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}

/** `12.3 [11.0–14.2]`, or just the median for a single run. */
export function fmtRange(s, digits = 1) {
  if (s.median === undefined) return '—';
  if (s.n < 2) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;
}

export function fmtRate(x) {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

/** A plain-text table: header row, separator, rows; columns padded to fit. */
export function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) =>
    `| ${cells.map((c, i) => String(c ?? '').padEnd(widths[i])).join(' | ')} |`.replace(/\s+\|$/, ' |');
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
