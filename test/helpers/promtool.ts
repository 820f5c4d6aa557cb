import { spawnSync } from 'node:child_process';
import { inject } from 'vitest';

/**
 * promtool (Debian's `prometheus` package) for the tests that lint scrapes and check the alert
 * rules. test/global-setup.ts decides once per run whether it is there: locally a missing
 * promtool skips those tests with one loud line, in CI (`CI=true`) it fails the run.
 */
export interface Promtool {
  /** The command run: `TOLLGATE_PROMTOOL` when set, else `promtool` from the PATH. */
  readonly command: string;
  readonly available: boolean;
  /** promtool's version line when it ran, or why it could not run. */
  readonly detail: string;
}

/** The line printed when promtool is missing and its tests are skipped. */
export const PROMTOOL_SKIP_LINE =
  '!!! promtool suites SKIPPED: no promtool found. Install it (apt-get install prometheus, or a Prometheus release) to lint metrics and check alerts/.';

/**
 * Looks for promtool. `TOLLGATE_PROMTOOL` names another binary: tests set it to a path that does
 * not exist to see what a machine without promtool does.
 */
export function detectPromtool(env: NodeJS.ProcessEnv = process.env): Promtool {
  const command = env.TOLLGATE_PROMTOOL || 'promtool';
  const run = spawnSync(command, ['--version'], { encoding: 'utf8', env });
  if (run.error !== undefined) return { command, available: false, detail: run.error.message };
  if (run.status !== 0) return { command, available: false, detail: `exit ${run.status}: ${run.stderr.trim()}` };
  return { command, available: true, detail: `${run.stdout}${run.stderr}`.split('\n')[0] ?? '' };
}

/**
 * What global setup does with the answer: throws in CI, where every test must run; otherwise
 * returns the one line to print when promtool is missing (undefined when it is there).
 */
export function promtoolVerdict(promtool: Promtool, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (promtool.available) return undefined;
  if (env.CI) {
    throw new Error(
      `CI requires promtool (apt-get install prometheus): ${promtool.command} could not run (${promtool.detail})`,
    );
  }
  return PROMTOOL_SKIP_LINE;
}

/** What global setup found for this run (only inside a test file). */
export function injectedPromtool(): Promtool {
  return inject('promtool');
}

/**
 * Runs promtool with `args`, `input` on stdin. Throws if it cannot run at all: a test reaching
 * this has been told promtool is there.
 */
export function runPromtool(
  args: readonly string[],
  options: { input?: string; cwd?: string } = {},
): { status: number | null; output: string } {
  const { command } = injectedPromtool();
  const run = spawnSync(command, args, { input: options.input ?? '', cwd: options.cwd, encoding: 'utf8' });
  if (run.error !== undefined) throw new Error(`promtool could not run (${run.error.message})`);
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

declare module 'vitest' {
  export interface ProvidedContext {
    promtool: Promtool;
  }
}
