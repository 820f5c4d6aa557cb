// Draws docs/assets/token-bucket.svg from what a real RateLimiter does: a MemoryStore with an
// injected clock is driven through a burst, a client that asks faster than the refill, a quiet
// spell and a second burst, and the bucket is read back every 100 ms.
//
//   node docs/scripts/token-bucket-diagram.mjs      (after `npm run build`: it imports @tollgate/core)
//
// test/docs/token-bucket-diagram.test.ts renders it again from the sources and fails when the
// committed SVG differs, so the picture cannot drift from the limiter's behaviour.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MemoryStore, RateLimiter } from '@tollgate/core';

/** The policy drawn: a bucket of 10 tokens refilled at 10 per 10 s, one token a second. */
export const POLICY = { max: 10, window: '10s' };
const SECONDS = 30;
const CAPACITY = 10;

/** Request times in ms: a burst, a client at 2 requests a second, a quiet spell, a second burst. */
export function requestTimes() {
  const times = [];
  for (let i = 0; i < 13; i++) times.push(1000 + i * 50);
  for (let t = 6000; t <= 14_000; t += 500) times.push(t);
  for (let i = 0; i < 6; i++) times.push(24_000 + i * 50);
  return times;
}

/** Runs the scenario; returns the bucket's level over time and each request's outcome. */
export async function simulate() {
  const clock = { now: 0 };
  const store = new MemoryStore({ now: () => clock.now });
  const limiter = new RateLimiter({ ...POLICY, store, name: 'diagram' });
  const key = limiter.keyFor('client');
  const level = () => store.peek(key, limiter.policies).tokens[0];
  const samples = [];
  const requests = [];
  const pending = requestTimes();
  for (let t = 0; t <= SECONDS * 1000; t += 10) {
    clock.now = t;
    while (pending.length > 0 && pending[0] === t) {
      pending.shift();
      samples.push([t, level()]);
      const decision = await limiter.consume('client');
      samples.push([t, level()]);
      requests.push({
        t,
        allowed: decision.allowed,
        remaining: decision.remaining,
        retryAfterMs: decision.retryAfterMs,
      });
    }
    if (t % 100 === 0) samples.push([t, level()]);
  }
  store.close();
  return { samples, requests };
}

const W = 760;
const H = 340;
const X0 = 60;
const X1 = 730;
const Y0 = 50;
const Y1 = 270;
const x = (ms) => (X0 + ((X1 - X0) * ms) / (SECONDS * 1000)).toFixed(1);
const y = (tokens) => (Y1 - ((Y1 - Y0) * tokens) / CAPACITY).toFixed(1);

/** The SVG, as text. */
export async function render() {
  const { samples, requests } = await simulate();
  const allowed = requests.filter((r) => r.allowed).length;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="12">`,
    '<title>A token bucket over time: capacity 10, refilled at 10 per 10 s (one token a second)</title>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${X0}" y="24" font-size="15" font-weight="600">tollgate token bucket: max 10, window '10s' (burst = max = 10)</text>`,
    `<text x="${X0}" y="40" fill="#555">Tokens in one client's bucket, read from a MemoryStore driven by RateLimiter.consume(); ${allowed} of ${requests.length} requests admitted.</text>`,
  );
  for (let tokens = 0; tokens <= CAPACITY; tokens += 2) {
    out.push(
      `<line x1="${X0}" y1="${y(tokens)}" x2="${X1}" y2="${y(tokens)}" stroke="#eee"/>`,
      `<text x="${X0 - 8}" y="${Number(y(tokens)) + 4}" text-anchor="end" fill="#555">${tokens}</text>`,
    );
  }
  for (let s = 0; s <= SECONDS; s += 5) {
    out.push(
      `<line x1="${x(s * 1000)}" y1="${Y1}" x2="${x(s * 1000)}" y2="${Y1 + 5}" stroke="#555"/>`,
      `<text x="${x(s * 1000)}" y="${Y1 + 18}" text-anchor="middle" fill="#555">${s} s</text>`,
    );
  }
  out.push(
    `<line x1="${X0}" y1="${Y1}" x2="${X1}" y2="${Y1}" stroke="#555"/>`,
    `<line x1="${X0}" y1="${Y0}" x2="${X0}" y2="${Y1}" stroke="#555"/>`,
    `<text transform="translate(18 ${(Y0 + Y1) / 2}) rotate(-90)" text-anchor="middle" fill="#555">tokens</text>`,
    `<line x1="${X0}" y1="${y(CAPACITY)}" x2="${X1}" y2="${y(CAPACITY)}" stroke="#888" stroke-dasharray="4 4"/>`,
    `<text x="${X1}" y="${Number(y(CAPACITY)) - 5}" text-anchor="end" fill="#888">capacity (burst) = 10</text>`,
  );
  const points = samples.map(([t, tokens]) => `${x(t)},${y(tokens)}`).join(' ');
  out.push(`<polyline points="${points}" fill="none" stroke="#2563eb" stroke-width="2"/>`);
  for (const r of requests) {
    const after = samples.findLast(([t]) => t === r.t)?.[1] ?? 0;
    const cx = x(r.t);
    const cy = Number(y(after));
    if (r.allowed) out.push(`<circle cx="${cx}" cy="${cy.toFixed(1)}" r="3" fill="#16a34a"/>`);
    else
      out.push(
        `<path d="M${(Number(cx) - 3).toFixed(1)} ${(cy - 3).toFixed(1)}l6 6m0 -6l-6 6" stroke="#dc2626" stroke-width="1.6"/>`,
      );
  }
  const firstRefusal = requests.find((r) => !r.allowed);
  const label = (ms, text) => `<text x="${x(ms)}" y="${Y1 + 36}" text-anchor="middle" fill="#333">${text}</text>`;
  out.push(
    label(1300, 'burst of 13'),
    label(10_000, 'a client at 2 requests/s'),
    label(18_500, 'quiet: refills at 1 token/s'),
    label(24_300, 'burst of 6'),
  );
  if (firstRefusal) {
    out.push(
      `<text x="${Number(x(firstRefusal.t)) + 12}" y="${y(6)}" fill="#dc2626">refused: 429, Retry-After: ${Math.max(1, Math.ceil(firstRefusal.retryAfterMs / 1000))}</text>`,
    );
  }
  const legendY = H - 14;
  out.push(
    `<line x1="${X0}" y1="${legendY - 4}" x2="${X0 + 24}" y2="${legendY - 4}" stroke="#2563eb" stroke-width="2"/>`,
    `<text x="${X0 + 30}" y="${legendY}">tokens left</text>`,
    `<circle cx="${X0 + 120}" cy="${legendY - 4}" r="3" fill="#16a34a"/>`,
    `<text x="${X0 + 128}" y="${legendY}">admitted (takes 1 token)</text>`,
    `<path d="M${X0 + 307} ${legendY - 7}l6 6m0 -6l-6 6" stroke="#dc2626" stroke-width="1.6"/>`,
    `<text x="${X0 + 318}" y="${legendY}">refused with 429 (takes nothing)</text>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}

export const SVG_PATH = fileURLToPath(new URL('../assets/token-bucket.svg', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SVG_PATH, await render());
  console.log(`wrote ${SVG_PATH}`);
}
