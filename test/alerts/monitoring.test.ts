import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RATE_LIMIT_OUTCOMES, RATE_LIMIT_SOURCES } from '../../packages/core/src/telemetry/rate-limit-metrics.js';
import { injectedPromtool, runPromtool } from '../helpers/promtool.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/**
 * promtool (Debian's `prometheus` package), as test/global-setup.ts found it: missing locally,
 * the checks that need it are skipped with one loud line; in CI a missing promtool fails the run.
 */
const { available: hasPromtool } = injectedPromtool();
function promtool(args: string[]): { status: number | null; output: string } {
  return runPromtool(args, { cwd: root });
}

/** Metric names tollgate registers, from the prom-client constructors in the sources. */
function sourceMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const [, kind, name] of text.matchAll(
          /new (Counter|Gauge|Histogram)(?:<[^>]*>)?\(\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g,
        )) {
          names.add(name as string);
          if (kind === 'Histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
        }
      }
    }
  };
  // Every package's sources: families live where their feature does (the Claude ones in llm).
  for (const pkg of readdirSync(join(root, 'packages'))) walk(join(root, 'packages', pkg, 'src'));
  return names;
}

const RULES = 'alerts/tollgate.rules.yml';
/** How a panel names the data source chosen in the dashboard's `datasource` variable. */
const DATASOURCE_VARIABLE = ['$', '{datasource}'].join('');
const RULE_TESTS = 'alerts/tollgate.rules.test.yml';
const metrics = sourceMetrics();
const rulesText = read(RULES);
const alerts = [...rulesText.matchAll(/^\s*- alert: (\S+)\s*$/gm)].map((m) => m[1] as string);
const records = [...rulesText.matchAll(/^\s*- record: (\S+)\s*$/gm)].map((m) => m[1] as string);

/** Identifiers in a PromQL expression that look like tollgate's or the HTTP metric names. */
function metricLike(expr: string): string[] {
  return expr.match(/\b(?:tollgate_[a-z0-9_]+|http_server_[a-z0-9_]+)\b|\btollgate:[a-z0-9_:]+/g) ?? [];
}

function unknownNames(expr: string): string[] {
  return metricLike(expr).filter((name) => !metrics.has(name) && !records.includes(name));
}

/**
 * The `outcome` and `source` values that the queries in `text` match on
 * `tollgate_ratelimit_decisions_total` (=, != and =~ with alternatives), as `label=value` pairs.
 */
function decisionLabelValues(text: string): string[] {
  const found: string[] = [];
  for (const [, matchers] of text.matchAll(/tollgate_ratelimit_decisions_total\{([^}]*)\}/g)) {
    for (const [, label, value] of (matchers as string).matchAll(/\b(outcome|source)\s*!?=~?\s*\\?"([^"\\]*)\\?"/g)) {
      for (const one of (value as string).split('|')) found.push(`${label}=${one}`);
    }
  }
  return found;
}

const KNOWN_DECISION_LABELS = new Set([
  ...RATE_LIMIT_OUTCOMES.map((o) => `outcome=${o}`),
  ...RATE_LIMIT_SOURCES.map((s) => `source=${s}`),
]);

describe('tollgate_ratelimit_decisions_total in the rules, their tests and the dashboard', () => {
  it.each(['alerts/tollgate.rules.yml', 'alerts/tollgate.rules.test.yml', 'dashboards/grafana.json'])(
    '%s matches only outcome and source values the metric has',
    (path) => {
      const values = decisionLabelValues(read(path));
      expect(values.length).toBeGreaterThan(0);
      expect(values.filter((v) => !KNOWN_DECISION_LABELS.has(v))).toEqual([]);
    },
  );

  it('the fallback alert and the dashboard tell outcome and source apart', () => {
    expect(decisionLabelValues(read('alerts/tollgate.rules.yml'))).toEqual(
      expect.arrayContaining(['source=local', 'source=open', 'outcome=limited', 'outcome=store_error']),
    );
    const dashboard = read('dashboards/grafana.json');
    expect(dashboard).toContain('sum by (outcome, source)');
    expect(dashboard).toContain('sum by (limiter, source, outcome)');
  });
});

describe('alerts/tollgate.rules.yml', () => {
  it('reads tollgate metric names from the sources', () => {
    for (const name of [
      'http_server_request_duration_seconds_bucket',
      'tollgate_ratelimit_decisions_total',
      'tollgate_ratelimit_store_duration_seconds_bucket',
      'tollgate_ratelimit_circuit_state',
      'tollgate_claude_cost_usd_total',
      'tollgate_claude_tokens_total',
    ]) {
      expect(metrics, name).toContain(name);
    }
  });

  it.skipIf(!hasPromtool)('passes promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', RULES]);
    expect(output).toContain(`SUCCESS: ${alerts.length + records.length} rules found`);
    expect(status, output).toBe(0);
  });

  it.skipIf(!hasPromtool)('passes its unit tests: promtool test rules', () => {
    const { status, output } = promtool(['test', 'rules', RULE_TESTS]);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('has the alerts the issue asks for', () => {
    expect(alerts).toEqual(
      expect.arrayContaining([
        'TollgateRateLimitedRatioHigh',
        'TollgateStoreFallback',
        'TollgateStoreErrorsRefusing',
        'TollgateCircuitOpen',
        'TollgateClaudeSpendNearDailyBudget',
      ]),
    );
  });

  it('unit-tests every alert both firing and not firing', () => {
    const tests = read(RULE_TESTS);
    const cases = [...tests.matchAll(/alertname: (\S+)\s*\n\s*exp_alerts:( \[\])?/g)];
    for (const alert of alerts) {
      const mine = cases.filter((c) => c[1] === alert);
      expect(
        mine.some((c) => c[2] === undefined),
        `${alert}: no test case where it fires`,
      ).toBe(true);
      expect(
        mine.some((c) => c[2] !== undefined),
        `${alert}: no test case where it stays quiet`,
      ).toBe(true);
    }
    expect(cases.map((c) => c[1]).filter((name) => !alerts.includes(name as string))).toEqual([]);
  });

  it('references only metrics tollgate exports (or its own recording rules)', () => {
    const exprs = [...rulesText.matchAll(/expr: (?:\|\n((?: {10}.*\n?)+)|(.+))/g)].map((m) => m[1] ?? m[2] ?? '');
    expect(exprs).toHaveLength(alerts.length + records.length);
    for (const expr of exprs) expect(unknownNames(expr), expr).toEqual([]);
  });
});

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}

describe('dashboards/grafana.json', () => {
  const dashboard = JSON.parse(read('dashboards/grafana.json')) as {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: Array<{ name: string; type: string; query?: unknown }> };
  };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const graphs = panels.filter((p) => p.type !== 'row');
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-dashboard-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is a dashboard with a uid, a title and panels', () => {
    expect(dashboard.uid).toBe('tollgate');
    expect(dashboard.title).toBeTruthy();
    expect(graphs.length).toBeGreaterThanOrEqual(10);
  });

  it('gives every panel a unique id, a title and a place on the 24-column grid, without overlaps', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of panels) {
      expect(p.title, String(p.id)).toBeTruthy();
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const cell = `${i},${j}`;
          expect(cells.has(cell), `${p.title} overlaps another panel at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
  });

  it('queries the Prometheus data source chosen by its variable', () => {
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    for (const p of graphs) {
      // Grafana's variable syntax, not a template literal.
      expect(p.datasource?.uid, p.title).toBe(DATASOURCE_VARIABLE);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
  });

  it('references a real tollgate metric in every panel query, and no unknown one', () => {
    for (const p of graphs) {
      for (const t of p.targets ?? []) {
        const expr = t.expr ?? '';
        expect(metricLike(expr).length, `${p.title}: ${expr}`).toBeGreaterThan(0);
        expect(unknownNames(expr), `${p.title}: ${expr}`).toEqual([]);
      }
    }
    for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
      const query = JSON.stringify(v.query);
      expect(metricLike(query).length, v.name).toBeGreaterThan(0);
      expect(unknownNames(query), v.name).toEqual([]);
    }
  });

  it('covers what the issue lists: HTTP rate and latency, 429s, store, circuit, Claude tokens and cost', () => {
    const all = graphs.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).join('\n');
    for (const name of [
      'http_server_request_duration_seconds_count',
      'http_server_request_duration_seconds_bucket',
      'tollgate_ratelimit_decisions_total',
      'tollgate_ratelimit_store_duration_seconds_bucket',
      'tollgate_ratelimit_circuit_state',
      'tollgate_claude_tokens_total',
      'tollgate_claude_cost_usd_total',
    ]) {
      expect(all).toContain(name);
    }
    expect(all).toContain('outcome="limited"');
  });

  it('says next to the 429s by route panel when a refusal cannot name its route (issue 12 item 7)', () => {
    const panel = graphs.find((p) => p.title === '429 responses by route') as Panel & { description?: string };
    expect(panel.targets?.[0]?.expr).toContain('http_response_status_code="429"');
    for (const words of ['_UNMATCHED', 'sub-app', 'koa-mount', 'no route matches']) {
      expect(panel.description).toContain(words);
    }
    expect(read('docs/telemetry.md')).toContain('**The route of a 429.**');
  });

  it.skipIf(!hasPromtool)('has only valid PromQL: every query passes promtool as a recording rule', () => {
    const rules = graphs.flatMap((p) =>
      (p.targets ?? []).map((t) => {
        const expr = (t.expr ?? '')
          .replaceAll('$__rate_interval', '5m')
          .replaceAll('$__interval', '1m')
          .replace(/\$(job|route|limiter|model)\b/g, '.*');
        return `      - record: dashboard:panel_${p.id}_${t.refId}\n        expr: ${JSON.stringify(expr)}\n`;
      }),
    );
    const file = join(dir, 'dashboard.rules.yml');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('')}`);
    const { status, output } = promtool(['check', 'rules', file]);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(status, output).toBe(0);
  });
});
