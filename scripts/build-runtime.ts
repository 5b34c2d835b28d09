// `npm run build:runtime`: esbuild bundles the runtime (runtime/ + its npm dependencies, never
// compiler/) into one file, dist/modelgate-runtime.js. Run it as
//   node dist/modelgate-runtime.js serve --bundle ... --public-key ... --audience ...
// The bundle activation worker is built beside it, dist/modelgate-activation-worker.js (a worker
// thread loads it by file; runtime/bundle/off-thread.ts looks for it next to the runtime).

import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'modelgate-runtime.js');

const result = await build({
  stdin: {
    contents: "import { main } from './runtime/main.ts';\nprocess.exitCode = await main(process.argv.slice(2));\n",
    resolveDir: root,
    sourcefile: 'modelgate-runtime-entry.ts',
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile,
  minify: process.env.MG_BUILD_MINIFY !== '0',
  sourcemap: false,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  // Bundled CommonJS dependencies (fastify, pino, ...) call require() for node built-ins.
  // The cloud secret SDKs are loaded lazily, and only by gateways that reference their store:
  // they stay outside the lean file and are resolved from node_modules when first used.
  external: ['@aws-sdk/*', '@azure/*', '@google-cloud/*', 'google-auth-library', 'google-gax'],
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __mgCreateRequire } from 'node:module';\nconst require = __mgCreateRequire(import.meta.url);" },
});

const worker = await build({
  absWorkingDir: root,
  entryPoints: ['runtime/bundle/activation-worker.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile: join(root, 'dist', 'modelgate-activation-worker.js'),
  minify: process.env.MG_BUILD_MINIFY !== '0',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  banner: { js: "import { createRequire as __mgCreateRequire } from 'node:module';\nconst require = __mgCreateRequire(import.meta.url);" },
});

const compilerInputs = [...Object.keys(result.metafile.inputs), ...Object.keys(worker.metafile.inputs)].filter((path) => path.startsWith('compiler/'));
if (compilerInputs.length > 0) {
  console.error(`build:runtime: the runtime bundle pulled in compiler code: ${compilerInputs.join(', ')}`);
  process.exitCode = 1;
} else {
  const { size } = await stat(outfile);
  console.log(`dist/modelgate-runtime.js: ${(size / 1024).toFixed(0)} KiB, ${Object.keys(result.metafile.inputs).length} inputs`);
}
