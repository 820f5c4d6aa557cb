#!/usr/bin/env node
// What a user pays for tollgate, next to express-rate-limit, measured in one run from packed
// tarballs (issue 14, item 1): a fresh `npm install` per row into a temp dir, less a baseline
// install of express alone, since every row needs it.
//   - installed apparent size (`du -sb`, the bytes of the files, not disk blocks) and package
//     count, for @tollgate/express used for rateLimit alone, with what the docs say to install
//     for telemetry() and metricsHandler(), and with @tollgate/otel for setupTelemetry();
//   - import time: the median of N fresh Node processes timing `require()` and `import()` of
//     the package (rows take turns run by run, so a change in machine load affects them alike);
//   - the runtime export count of each entry point, from the built packages.
// Figures, not assertions: the targets are printed next to them.
// Usage: npm run build && node scripts/measure-package.mjs [runs=20]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const runs = Number(process.argv[2] ?? 20);
const work = mkdtempSync(join(tmpdir(), 'tollgate-measure-'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
const npm = (args, cwd) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline'], {
    cwd,
    env,
    encoding: 'utf8',
  });

// The versions the repo tests with: express and the peers from the root, express-rate-limit from the bench.
const devDeps = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies;
const benchDeps = JSON.parse(readFileSync(join(root, 'bench', 'package.json'), 'utf8')).devDependencies;
const EXPRESS = `express@${devDeps.express}`;
const ERL = `express-rate-limit@${benchDeps['express-rate-limit']}`;
// What the adapters' docs say to install for telemetry() and metricsHandler().
const PEERS = ['@opentelemetry/api', 'prom-client'].map((name) => `${name}@${devDeps[name]}`);

function pack(pkg) {
  const out = npm(['pack', '--json', '--pack-destination', work], join(root, 'packages', pkg));
  return join(work, JSON.parse(out)[0].filename);
}

function install(name, specs) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `measure-${name}`, private: true }));
  npm(['install', ...specs], dir);
  return dir;
}

/** Apparent bytes under node_modules (`du -sb`) and the number of packages in it. */
function size(dir) {
  const bytes = Number(execFileSync('du', ['-sb', join(dir, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]);
  let packages = 0;
  const walk = (modules) => {
    let entries;
    try {
      entries = readdirSync(modules, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      if (entry.name.startsWith('@')) {
        walk(join(modules, entry.name));
      } else {
        packages += 1;
        walk(join(modules, entry.name, 'node_modules'));
      }
    }
  };
  walk(join(dir, 'node_modules'));
  return { bytes, packages };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function loadOnce(dir, specs, esm, after = '') {
  const script = esm
    ? `const t = performance.now(); ${specs.map((s, i) => `const m${i} = await import('${s}');`).join(' ')} ${after}
       console.log(JSON.stringify({ ms: performance.now() - t }))`
    : `const t = performance.now(); ${specs.map((s, i) => `const m${i} = require('${s}');`).join(' ')} ${after}
       const ms = performance.now() - t;
       console.log(JSON.stringify({ ms, modules: Object.keys(require.cache).length }))`;
  const args = esm ? ['--input-type=module', '-e', script] : ['-e', script];
  return JSON.parse(execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8' }));
}

/** Median ms of loading each row's modules in a fresh process, by require() and by import(). */
function importTimes(rows) {
  const results = rows.map(() => ({ require: [], import: [], modules: 0 }));
  for (const { dir, specs, after } of rows) loadOnce(dir, specs, false, after); // warm the file cache
  for (let i = 0; i < runs; i++) {
    rows.forEach(({ dir, specs, after }, r) => {
      const cjs = loadOnce(dir, specs, false, after);
      results[r].require.push(cjs.ms);
      results[r].modules = cjs.modules;
      results[r].import.push(loadOnce(dir, specs, true, after).ms);
    });
  }
  return results.map((r) => ({ require: median(r.require), import: median(r.import), modules: r.modules }));
}

/** Runtime exports of each entry point of the built packages (CommonJS, as `Object.keys` sees them). */
function exportCounts() {
  const load = createRequire(join(root, 'package.json'));
  const entries = [];
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8'));
    if (manifest.bin !== undefined && manifest.exports === undefined) continue; // a command, not a library
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      if (subpath.endsWith('package.json') || typeof target !== 'object') continue;
      const entry = `${manifest.name}${subpath.slice(1)}`;
      try {
        entries.push([entry, Object.keys(load(entry)).filter((name) => name !== '__esModule').length]);
      } catch (error) {
        entries.push([entry, `not loadable here (${error.code ?? error.message})`]);
      }
    }
  }
  return entries;
}

const MB = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;

try {
  const [core, express, otel] = ['core', 'express', 'otel'].map(pack);
  const baseline = install('baseline', [EXPRESS]);
  const limiter = install('limiter', [core, express, EXPRESS]);
  const metrics = install('telemetry-metrics', [core, express, EXPRESS, ...PEERS]);
  const traced = install('with-otel', [core, express, otel, EXPRESS, ...PEERS]);
  const erl = install('erl', [ERL, EXPRESS]);
  const base = size(baseline);

  console.log(`node ${process.version}, ${EXPRESS}, ${ERL}, ${PEERS.join(', ')}\n`);
  console.log('installed (apparent size)                        node_modules        added to an express app   target');
  const sizes = [
    ['express alone', baseline, ''],
    ['express-rate-limit', erl, ''],
    ['@tollgate/express, rateLimit alone', limiter, '<= 1 MB, <= 4 packages'],
    ['  + telemetry() and metricsHandler() peers', metrics, '<= 5 MB in all'],
    ['  + @tollgate/otel (setupTelemetry)', traced, '(opt-in)'],
  ];
  for (const [label, dir, target] of sizes) {
    const s = size(dir);
    const added = dir === baseline ? '' : `${MB(s.bytes - base.bytes)}, ${s.packages - base.packages} packages`;
    console.log(
      `${label.padEnd(46)} ${MB(s.bytes).padStart(9)} ${String(s.packages).padStart(4)} pkgs   ${added.padEnd(25)} ${target}`,
    );
  }

  const rows = [
    { label: '@tollgate/express', dir: limiter, specs: ['@tollgate/express'] },
    { label: 'express-rate-limit', dir: erl, specs: ['express-rate-limit'] },
    {
      label: '@tollgate/express + rateLimit()',
      dir: limiter,
      specs: ['@tollgate/express'],
      after: "m0.rateLimit({ max: 100, window: '1m' });",
    },
    {
      label: 'express-rate-limit + rateLimit()',
      dir: erl,
      specs: ['express-rate-limit'],
      after: '(m0.rateLimit ?? m0.default)({ limit: 100, windowMs: 60000 });',
    },
    { label: '(express alone)', dir: baseline, specs: ['express'] },
  ];
  const times = importTimes(rows);
  console.log(`\nimport time, median of ${runs} fresh processes each`);
  console.log('package                                 require()   import()  modules');
  rows.forEach((row, i) => {
    const t = times[i];
    console.log(
      `${row.label.padEnd(38)} ${t.require.toFixed(1).padStart(7)} ms ${t.import.toFixed(1).padStart(7)} ms ${String(t.modules).padStart(7)}`,
    );
  });
  const ratio = (a, b) =>
    `${(times[a].require / times[b].require).toFixed(2)}x require, ${(times[a].import / times[b].import).toFixed(2)}x import`;
  console.log(`@tollgate/express / express-rate-limit: ${ratio(0, 1)} (target <= 1.5x)`);
  console.log(`  with rateLimit() built: ${ratio(2, 3)}`);

  console.log('\nruntime exports per entry point (built packages)');
  for (const [entry, count] of exportCounts()) console.log(`${entry.padEnd(32)} ${count}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
