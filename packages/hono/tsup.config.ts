import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  // The dist is unminified and readable; source maps would more than double the package.
  sourcemap: false,
  clean: true,
  target: 'node20',
});
