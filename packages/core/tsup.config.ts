import { defineConfig } from 'tsup';

export default defineConfig({
  // stored-format: the stored bucket layout and digests, for the CLI (docs/redis.md).
  entry: ['src/index.ts', 'src/stored-format.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  // The dist is unminified and readable; source maps (with their embedded sources) would more
  // than double the installed size for little gain.
  sourcemap: false,
  clean: true,
  target: 'node20',
  // The optional peers (prom-client, @opentelemetry/api) are looked up with createRequire(import.meta.url);
  // the shim gives the CommonJS build an import.meta.url.
  shims: true,
});
