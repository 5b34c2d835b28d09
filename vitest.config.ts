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
    // Every audit line written by a test gateway must validate against its JSON Schema.
    setupFiles: ['test/support/audit-lines-setup.ts'],
  },
});
