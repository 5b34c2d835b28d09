#!/usr/bin/env node
// The modelgate command. Sources are TypeScript run through tsx, so a clone works after `npm ci`
// with no build step; `modelgate serve` loads only the runtime (it never imports the compiler).
import { register } from 'tsx/esm/api';

register();
const args = process.argv.slice(2);
const entry = args[0] === 'serve' ? '../runtime/main.ts' : '../compiler/cli/main.ts';
const { main } = await import(new URL(entry, import.meta.url).href);
process.exitCode = await main(args);
