// The fast, in-process tests that Stryker runs per mutant (stryker.config.json): pure functions
// and in-process fakes only, no gateway, no child process. They also run in `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/security/**/*.test.ts', 'test/compiler/checks.test.ts'],
    testTimeout: 30_000,
    pool: 'threads',
  },
});
