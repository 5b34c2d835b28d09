import { defineConfig } from 'vitest/config';
import { scaled } from '../support/time-scale.ts';

// `npm run test:image`: builds the Dockerfile with podman (a stand-in base image, no registry) and
// serves a request through the image. Slow (an `npm ci` inside the build), hence not in npm test.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/image/**/*.test.ts'],
    testTimeout: scaled(300_000),
    hookTimeout: scaled(300_000),
    pool: 'forks',
  },
});
