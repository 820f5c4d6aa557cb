import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // In-process tests run against the sources; tests that spawn app processes use the built dist.
    alias: {
      // Before '@tollgate/core', which would otherwise take it as a prefix.
      '@tollgate/core/adapter': fileURLToPath(new URL('./packages/core/src/adapter.ts', import.meta.url)),
      '@tollgate/core/stored-format': fileURLToPath(new URL('./packages/core/src/stored-format.ts', import.meta.url)),
      '@tollgate/core': src('core'),
      '@tollgate/otel': src('otel'),
      '@tollgate/llm': src('llm'),
      '@tollgate/express': src('express'),
      '@tollgate/koa': src('koa'),
      '@tollgate/fastify': src('fastify'),
      '@tollgate/nestjs': src('nestjs'),
      '@tollgate/fetch': src('fetch'),
      '@tollgate/hono': src('hono'),
      '@tollgate/store-kit': src('store-kit'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
