#!/usr/bin/env node
// `npm run reliability`: builds the packages (the multi-process tests run the built ones), runs
// the reliability suite (test/reliability) against real Redis and a real Redis Cluster, and
// prints one table from the figures the tests wrote:
//   scenario | requests | admitted / expected | max latency | errors | data lost
// Exits non-zero if a test failed, or if any scenario had errors or lost data.
// Options: --no-build (use the packages as last built); anything else goes to vitest.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, '.tmp', 'reliability');
const figuresFile = join(outDir, 'figures.jsonl');
const resultsFile = join(outDir, 'vitest.json');

const args = process.argv.slice(2);
const build = !args.includes('--no-build');
const passThrough = args.filter((a) => a !== '--no-build');

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

if (build) {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) {
    console.error('reliability: npm run build failed');
    process.exit(built.status ?? 1);
  }
}

const started = Date.now();
const run = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    'test/reliability',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${resultsFile}`,
    ...passThrough,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, TOLLGATE_RELIABILITY_REPORT: figuresFile } },
);
const seconds = ((Date.now() - started) / 1000).toFixed(0);

const rows = existsSync(figuresFile)
  ? readFileSync(figuresFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  : [];

const columns = [
  ['scenario', (r) => r.scenario],
  ['requests', (r) => String(r.requests)],
  ['admitted / expected', (r) => `${r.admitted} / ${r.expected}`],
  ['max latency', (r) => (r.maxLatencyMs > 0 ? `${r.maxLatencyMs} ms` : '-')],
  ['errors', (r) => String(r.errors)],
  ['data lost', (r) => (r.dataLost === 0 ? 'none' : String(r.dataLost))],
];
const cells = rows.map((r) => columns.map(([, cell]) => cell(r)));
const widths = columns.map(([name], i) => Math.max(name.length, ...cells.map((c) => c[i].length)));
const line = (values) => `| ${values.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
console.log(`\nReliability figures (${rows.length} scenarios, ${seconds} s)\n`);
console.log(line(columns.map(([name]) => name)));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const c of cells) console.log(line(c));
const notes = rows.filter((r) => r.notes);
if (notes.length > 0) {
  console.log('\nNotes:');
  for (const r of notes) console.log(`- ${r.scenario}: ${r.notes}`);
}

let tests = '';
if (existsSync(resultsFile)) {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
  tests = `${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`;
  for (const file of results.testResults ?? []) {
    for (const test of file.assertionResults ?? []) {
      if (test.status === 'failed') console.log(`FAILED: ${test.fullName}`);
    }
  }
}
const unhealthy = rows.filter((r) => r.errors > 0 || r.dataLost > 0);
console.log(`\nTests: ${tests || 'no results'}. Scenarios with errors or lost data: ${unhealthy.length}.`);
process.exit(run.status !== 0 ? (run.status ?? 1) : unhealthy.length > 0 ? 1 : 0);
