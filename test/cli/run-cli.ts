import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE = fileURLToPath(new URL('../../packages/cli/', import.meta.url));
/** What tsup builds. */
export const CLI = join(PACKAGE, 'dist', 'cli.js');
/** The committed bin (package.json `bin`) that runs it: every test goes through it, as `npx tollgate` does. */
export const BIN = join(PACKAGE, 'bin', 'tollgate.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds the CLI when its dist is missing or older than its sources (`npm run build` builds it
 * once packages/cli is a workspace; this keeps the tests honest before that, or after an edit).
 * The build goes to a directory of its own and is renamed into place, so a test file building
 * it at the same moment, or a CLI process starting, never reads a half-written file.
 */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {}
  if (built >= newestSource(join(PACKAGE, 'src'))) return;
  const tsup = fileURLToPath(new URL('../../node_modules/tsup/dist/cli-default.js', import.meta.url));
  const outDir = join(PACKAGE, '.tmp', `build-${process.pid}`);
  try {
    execFileSync(process.execPath, [tsup, '--out-dir', outDir], { cwd: PACKAGE, stdio: 'ignore' });
    mkdirSync(dirname(CLI), { recursive: true });
    renameSync(join(outDir, 'cli.js'), CLI);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
    try {
      rmdirSync(dirname(outDir)); // only if no other build is using it
    } catch {}
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI as a user would, with only the environment given (no REDIS_URL leaks in). */
export function runCli(args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}) {
  const started = performance.now();
  return new Promise<CliResult>((resolve, reject) => {
    const { REDIS_URL: _, ...env } = process.env;
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
    child.stdin.end(options.input ?? '');
  });
}
