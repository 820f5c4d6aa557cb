import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  // The dist is unminified and readable; source maps (with their embedded sources) would more
  // than double the installed size for little gain.
  sourcemap: false,
  clean: true,
  target: 'node20',
  // setupTelemetry loads the OpenTelemetry SDK lazily with createRequire(import.meta.url);
  // the shim gives the CommonJS build an import.meta.url.
  shims: true,
});
