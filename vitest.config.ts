import { join } from 'node:path';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript source (the "@mig/source" export condition), so
// they never run against a stale build. Child processes spawned by tests use the built dist instead.
// "module" is left out: it points some packages (@opentelemetry/api 1.9) at builds Node cannot load.
const conditions = ['@mig/source', ...defaultServerConditions.filter((c) => c !== 'module')];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // Each run also writes its counts next to where it was started (a package's folder under `turbo run test`),
    // which turbo keeps as the task's output and .ci/run adds up.
    reporters: [
      'default',
      ['json', { outputFile: process.env.MIG_TEST_JSON ?? join(process.cwd(), '.test-results.json') }],
    ],
  },
});
