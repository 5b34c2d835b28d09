import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { TEST_TIMEOUT_MS } from './test/support/time-scale.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/package/ packs and installs the packages: `npm run test:package`, after npm test;
    // test/image/ builds and runs the container image: `npm run test:image`.
    exclude: ['test/bench/**', 'test/package/**', 'test/image/**', 'node_modules/**'],
    // Hang guards, not speed claims: scaled by MG_TEST_TIME_SCALE (test/support/time-scale.ts).
    testTimeout: TEST_TIMEOUT_MS,
    hookTimeout: TEST_TIMEOUT_MS,
    // Real servers on 127.0.0.1 in several files: keep files in separate processes.
    pool: 'forks',
    // Two files at a time at least (vitest's default is one per core less one: one on 2 cores).
    // Most of a test's time is spent waiting on its servers: on the 2-core VM the suite took
    // 11 min 46 s two at a time with another test suite running beside it, against 12 min 30 s
    // one at a time on the quiet machine. The hang guards above are scaled, never speed claims.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // Every audit line written by a test gateway must validate against its JSON Schema.
    setupFiles: ['test/support/audit-lines-setup.ts'],
  },
});
