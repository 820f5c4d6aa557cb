#!/usr/bin/env node
// Measures what a user pays for installing and importing @tollgate/express, next to
// express-rate-limit: installed size (a fresh `npm install` into a temp dir, less a baseline
// install of express alone, since both need it) and import time (the median of N fresh Node
// processes timing `require()` and `import()` of the package; the rows take turns run by run,
// so a change in machine load affects them alike).
// Usage: npm run build && node scripts/measure-package.mjs [runs=20]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

/** Kilobytes on disk (du -sk) and the number of packages under node_modules. */
function size(dir) {
  const kb = Number(execFileSync('du', ['-sk', join(dir, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]);
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
  return { kb, packages };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function loadOnce(dir, specs, esm) {
  const script = esm
    ? `const t = performance.now(); ${specs.map((s) => `await import('${s}');`).join(' ')}
       console.log(JSON.stringify({ ms: performance.now() - t }))`
    : `const t = performance.now(); ${specs.map((s) => `require('${s}');`).join(' ')}
       const ms = performance.now() - t;
       console.log(JSON.stringify({ ms, modules: Object.keys(require.cache).length }))`;
  const args = esm ? ['--input-type=module', '-e', script] : ['-e', script];
  return JSON.parse(execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8' }));
}

/** Median ms of loading each row's modules in a fresh process, by require() and by import(). */
function importTimes(rows) {
  const results = rows.map(() => ({ require: [], import: [], modules: 0 }));
  for (const { dir, specs } of rows) loadOnce(dir, specs, false); // warm the file cache
  for (let i = 0; i < runs; i++) {
    rows.forEach(({ dir, specs }, r) => {
      const cjs = loadOnce(dir, specs, false);
      results[r].require.push(cjs.ms);
      results[r].modules = cjs.modules;
      results[r].import.push(loadOnce(dir, specs, true).ms);
    });
  }
  return results.map((r) => ({ require: median(r.require), import: median(r.import), modules: r.modules }));
}

try {
  const [core, express, otel] = ['core', 'express', 'otel'].map(pack);
  const baseline = install('baseline', ['express@^5']);
  const tollgate = install('tollgate', [core, express, 'express@^5']);
  const withOtel = install('with-otel', [core, express, otel, 'express@^5']);
  const erl = install('erl', ['express-rate-limit', 'express@^5']);
  const rows = [
    { label: '@tollgate/express', dir: tollgate, specs: ['@tollgate/express'] },
    { label: 'express-rate-limit', dir: erl, specs: ['express-rate-limit'] },
    { label: '(express alone)', dir: baseline, specs: ['express'] },
    // What importing cost when core loaded the OpenTelemetry SDK eagerly (now @tollgate/otel's).
    {
      label: '(eager OTel SDK)',
      dir: withOtel,
      specs: [
        '@tollgate/express',
        '@opentelemetry/sdk-trace-node',
        '@opentelemetry/exporter-trace-otlp-proto',
        '@opentelemetry/resources',
      ],
    },
  ];
  const times = importTimes(rows);
  const base = size(baseline);
  console.log(`node ${process.version}, median of ${runs} fresh processes each\n`);
  console.log('package              require()   import()  modules   node_modules          added to an express app');
  rows.forEach((row, i) => {
    const t = times[i];
    const s = size(row.dir);
    const added = row.label.startsWith('(')
      ? ''
      : `${((s.kb - base.kb) / 1024).toFixed(1)} MB, ${s.packages - base.packages} packages`;
    console.log(
      `${row.label.padEnd(20)} ${t.require.toFixed(1).padStart(7)} ms ${t.import.toFixed(1).padStart(7)} ms ${String(t.modules).padStart(7)}   ${(s.kb / 1024).toFixed(1).padStart(6)} MB ${String(s.packages).padStart(4)} pkgs   ${added}`,
    );
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}
