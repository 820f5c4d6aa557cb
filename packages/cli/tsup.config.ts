import { defineConfig } from 'tsup';

// A command, not a library: one ESM file with its shebang (tsup keeps it and marks the file
// executable), no type declarations. No clean: the one file is overwritten in place, so a
// concurrent `npm pack` (the package-matrix test) never sees an empty dist.
export default defineConfig({
  entry: ['src/cli.ts'],
  format: ['esm'],
  dts: false,
  sourcemap: false,
  clean: false,
  target: 'node20',
});
