import { defineConfig } from 'tsup';

export default defineConfig({
  // index: what an application uses. adapter: what framework adapters are built from.
  // stored-format: the stored bucket layout and digests, for the CLI (docs/redis.md).
  entry: ['src/index.ts', 'src/adapter.ts', 'src/stored-format.ts'],
  format: ['esm', 'cjs'],
  // Shared code goes to chunks in CommonJS too (esbuild splits only ESM unless asked): without it,
  // index.cjs and adapter.cjs would each carry their own copy of the registry, the error classes and
  // the limiter-name registry, and a CommonJS app would see two of each. treeshake hands the
  // chunking to Rollup, which writes CommonJS chunks itself; without it tsup converts esbuild's ESM
  // chunks with sucrase, which turned MemoryStore's `count = 0` field into `exports.count = 0` and
  // overwrote the header code's count().
  splitting: true,
  treeshake: true,
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
