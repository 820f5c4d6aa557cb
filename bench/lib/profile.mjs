// Reads V8 .cpuprofile files (from `node --cpu-prof`): self time per function and per piece of
// code (a package, tollgate's packages, node's internals), and for HTTP the difference between a
// contender's server and a bare one, per request.
import { readFileSync } from 'node:fs';
import { ROOT } from './env.mjs';

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function codeOf(url, name) {
  if (SPECIAL.has(name)) return name;
  if (!url) return '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const path = url.replace(/^file:\/\//, '');
  // The last node_modules segment names the package; tollgate's own resolve to packages/.
  const all = [...path.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)];
  if (all.length > 0) return all[all.length - 1][1];
  const own = /packages\/([^/]+)\//.exec(path);
  if (own) return `@tollgate/${own[1]}`;
  return path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
}

function shortUrl(url) {
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
}

/** Self time in µs per function (`name at`) and per code, and the busy total. */
export function readProfile(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const functions = new Map();
  const codes = new Map();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byNode.get(id).callFrame;
    const name = functionName || '(anonymous)';
    if (name === '(idle)') continue;
    busyUs += us;
    const at = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${name} ${at}`;
    const f = functions.get(key) ?? { name, at, us: 0 };
    f.us += us;
    functions.set(key, f);
    const code = codeOf(url, name);
    codes.set(code, (codes.get(code) ?? 0) + us);
  }
  return { busyUs, functions, codes };
}

const pct = (x) => `${(x * 100).toFixed(1).padStart(5)}%`;
const us = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2).padStart(6)} µs`;

/** Shares of busy time, for one profile (in-process benchmarks). */
export function formatProfile(p, topN = 25) {
  const lines = ['  self time by code:'];
  for (const [code, t] of [...p.codes].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    lines.push(`    ${pct(t / p.busyUs)}  ${code}`);
  }
  lines.push('  top functions by self time (share of busy time):');
  for (const f of [...p.functions.values()].sort((a, b) => b.us - a.us).slice(0, topN)) {
    lines.push(`    ${pct(f.us / p.busyUs)}  ${f.name}  ${f.at}`);
  }
  return lines.join('\n');
}

/**
 * A contender's server against a bare one under the same load: self time per request, and what
 * the contender adds, by code and by function. `requests` are those each server answered.
 */
export function formatProfileDiff(bare, bareRequests, run, runRequests, topN = 25) {
  const perReq = (t, n) => t / n;
  const lines = [
    `  main-thread busy time per request: bare ${perReq(bare.busyUs, bareRequests).toFixed(2)} µs, ` +
      `contender ${perReq(run.busyUs, runRequests).toFixed(2)} µs (${us(perReq(run.busyUs, runRequests) - perReq(bare.busyUs, bareRequests)).trim()})`,
    '  added self time per request, by code:',
  ];
  const codes = new Set([...bare.codes.keys(), ...run.codes.keys()]);
  const codeDiffs = [...codes].map((c) => [
    c,
    perReq(run.codes.get(c) ?? 0, runRequests) - perReq(bare.codes.get(c) ?? 0, bareRequests),
  ]);
  for (const [code, d] of codeDiffs.sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`    ${us(d)}  ${code}`);
  lines.push('  added self time per request, by function (top):');
  const fns = new Set([...bare.functions.keys(), ...run.functions.keys()]);
  const fnDiffs = [...fns].map((k) => {
    const f = run.functions.get(k) ?? bare.functions.get(k);
    const d = perReq(run.functions.get(k)?.us ?? 0, runRequests) - perReq(bare.functions.get(k)?.us ?? 0, bareRequests);
    return { ...f, d };
  });
  for (const f of fnDiffs.sort((a, b) => b.d - a.d).slice(0, topN)) lines.push(`    ${us(f.d)}  ${f.name}  ${f.at}`);
  return lines.join('\n');
}
