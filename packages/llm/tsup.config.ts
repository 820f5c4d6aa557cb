import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  // The dist is unminified and readable; source maps would more than double the package.
  sourcemap: false,
  clean: true,
  target: 'node20',
  // prom-client (an optional peer) is looked up with createRequire(import.meta.url) when a
  // ClaudeRateLimiter is built; the shim gives the CommonJS build an import.meta.url.
  shims: true,
});
