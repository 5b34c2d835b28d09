import { defineConfig } from 'vitest/config';

// `npm run test:package`: packs both packages and installs them from their tarballs (dependencies
// from the npm registry) into fresh projects outside the repository. Slow, hence not in npm test.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/package/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});
