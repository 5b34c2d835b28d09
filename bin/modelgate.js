#!/usr/bin/env node
// The modelgate command and the one place that composes both programs: `serve` loads only the
// runtime; every other command runs the compiler's CLI, which gets the runtime's secret readers
// (for `secrets check`) from here, loaded only when that command asks. Sources are TypeScript run
// through tsx, so a clone works after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const args = process.argv.slice(2);
const load = (path) => import(new URL(path, import.meta.url).href);
if (args[0] === 'serve') {
  const { main } = await load('../runtime/main.ts');
  process.exitCode = await main(args);
} else {
  const { main } = await load('../compiler/cli/main.ts');
  const services = {
    secretSources: async () => (await load('../runtime/secrets/default-sources.ts')).defaultSecretSources(),
  };
  process.exitCode = await main(args, services);
}
