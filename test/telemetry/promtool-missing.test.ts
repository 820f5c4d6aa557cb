import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { detectPromtool, PROMTOOL_SKIP_LINE, promtoolVerdict } from '../helpers/promtool.js';
import { redis } from '../helpers/redis.js';

/**
 * A fresh machine without promtool (issue 12, item 4): `npm test` must pass there, skipping the
 * promtool checks with one loud line, while CI (`CI=true`) must fail rather than skip. Runs
 * Vitest itself, as `npm test` does, on two files whose 7 tests need promtool, with a PATH
 * that has redis-server but no promtool.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const FILES = ['packages/core/src/telemetry/scrape.test.ts', 'test/alerts/monitoring.test.ts'];
const PROMTOOL_TESTS = 7;

const scratch = mkdtempSync(join(tmpdir(), 'tollgate-no-promtool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A PATH of one directory, with what the global setup looks for besides promtool. */
function pathWithoutPromtool(): string {
  const bin = join(scratch, 'bin');
  if (existsSync(bin)) return bin;
  mkdirSync(bin);
  const dirs = (process.env.PATH ?? '').split(delimiter);
  for (const tool of ['redis-server', 'redis-cli']) {
    const found = dirs.map((dir) => join(dir, tool)).find((path) => existsSync(path));
    if (found !== undefined) symlinkSync(found, join(bin, tool));
  }
  return bin;
}

interface Run {
  code: number | null;
  output: string;
  report: { numPassedTests: number; numPendingTests: number; numFailedTests: number } | undefined;
}

async function vitest(env: Record<string, string>, name: string): Promise<Run> {
  const outputFile = join(scratch, `${name}.json`);
  // The outer run's Vitest variables would confuse the inner one; the cluster is the outer run's.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST') && key !== 'CI' && key !== 'NODE_ENV'),
  );
  const child = spawn(process.execPath, [VITEST, 'run', ...FILES, '--reporter=json', `--outputFile=${outputFile}`], {
    cwd: root,
    env: { ...base, REDIS_CLUSTER_NODES: redis.clusterNodes.join(','), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  let report: Run['report'];
  try {
    report = JSON.parse(readFileSync(outputFile, 'utf8'));
  } catch {
    report = undefined;
  }
  return { code, output, report };
}

describe('without promtool', () => {
  it('detectPromtool honours TOLLGATE_PROMTOOL, and reports a missing binary', () => {
    const missing = detectPromtool({ ...process.env, TOLLGATE_PROMTOOL: '/nonexistent/promtool' });
    expect(missing).toMatchObject({ command: '/nonexistent/promtool', available: false });
    expect(missing.detail).toContain('ENOENT');
    expect(promtoolVerdict(missing, {})).toBe(PROMTOOL_SKIP_LINE);
    expect(() => promtoolVerdict(missing, { CI: 'true' })).toThrow(/CI requires promtool/);
  });

  it('locally: the promtool tests are skipped with one loud line, and the run passes', async () => {
    const run = await vitest({ PATH: pathWithoutPromtool() }, 'local');
    expect(run.output.split(PROMTOOL_SKIP_LINE).length - 1, run.output).toBe(1);
    expect(run.output).not.toContain('ENOENT');
    expect(run.report, run.output).toMatchObject({ numFailedTests: 0, numPendingTests: PROMTOOL_TESTS });
    expect(run.report?.numPassedTests).toBeGreaterThan(0);
    expect(run.code, run.output).toBe(0);
  });

  it('in CI (CI=true): the run fails, and no test runs', async () => {
    const run = await vitest({ PATH: pathWithoutPromtool(), CI: 'true' }, 'ci');
    expect(run.output).toContain('CI requires promtool');
    expect(run.code).not.toBe(0);
    expect(run.report?.numPassedTests ?? 0).toBe(0);
  });
});
