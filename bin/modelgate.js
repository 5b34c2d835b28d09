#!/usr/bin/env node
// The `modelgate` command. In a clone (the TypeScript sources sit next to this file) it runs the
// sources through tsx, so `npm ci` is enough, with no build step; in the installed package, which
// ships no sources, it runs the built bundle (dist/cli.js, made by `npm run build`).
import { existsSync } from 'node:fs';
import module from 'node:module';

let cli;
if (existsSync(new URL('../compiler/cli/main.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('./cli.ts');
} else {
  // Node 22.1+: V8's code cache for the bundle, kept in the OS temp folder across runs.
  module.enableCompileCache?.();
  cli = await import('../dist/cli.js');
}
process.exitCode = await cli.run(process.argv.slice(2));
