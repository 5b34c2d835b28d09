// esbuild settings that `npm run build` (scripts/build.ts) and the benchmarks that measure the
// built package (test/bench/compile.bench.ts) share, so that a benchmark bundles as users get it.
import type { BuildOptions } from 'esbuild';

/** Packages that stay outside the bundle: the optional peer dependencies (see package.json). */
export const EXTERNAL = ['@aws-sdk/*', '@azure/*', '@google-cloud/*', 'google-auth-library', 'google-gax'];

/** Bundled CommonJS dependencies (fastify, pino, ajv, ...) call require() for node built-ins. */
export const REQUIRE_BANNER = "import { createRequire as __mgCreateRequire } from 'node:module';\nconst require = __mgCreateRequire(import.meta.url);";

/** The bundle shape both build: ESM chunks for Node 20, minified, with the two settings above. */
export const PACKAGE_BUNDLE = {
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  chunkNames: 'chunks/[name]-[hash]',
  minify: true,
  logLevel: 'warning',
  external: EXTERNAL,
  banner: { js: REQUIRE_BANNER },
} as const satisfies BuildOptions;
