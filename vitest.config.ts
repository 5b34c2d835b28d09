import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/package/ packs and installs the packages: `npm run test:package`, after npm test.
    exclude: ['test/bench/**', 'test/package/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Real servers on 127.0.0.1 in several files: keep files in separate processes.
    pool: 'forks',
  },
});
