/** Columns aligned with two spaces between them; numbers (`align: 'right'`) line up on the right. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  right: ReadonlySet<number>,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** 1234567 -> '1,234,567'. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Milliseconds as at most two units: '850ms', '12s', '1m 56s', '3h 5m', '2d 1h'. */
export function duration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const units: ReadonlyArray<[string, number]> = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  let rest = Math.ceil(ms / 1000);
  const i = units.findIndex(([, size]) => rest >= size);
  const parts: string[] = [];
  for (const [unit, size] of units.slice(i, i + 2)) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.join(' ');
}
