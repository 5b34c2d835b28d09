// The modelgate command and the one place that composes both programs: `serve` loads only the
// runtime; every other command runs the compiler's CLI, which gets the runtime's secret readers
// (for `secrets check`) from here, loaded only when that command asks. bin/modelgate.js runs this
// file from the sources (through tsx) in a clone, and its bundle, dist/cli.js, from the package.
import type { CliServices } from '../compiler/cli/main.ts';
import { jsonWarnings } from './json-warnings.ts';

// The top-level usage text, put in by the package build (scripts/build.ts) from the compiler's own
// `modelgate --help`, so that `modelgate`, `modelgate --help` and `npx modelgate` answer without
// loading the compiler. From the sources it is not defined and the compiler answers.
declare const MODELGATE_USAGE: string | undefined;
const BUILT_USAGE = typeof MODELGATE_USAGE === 'string' ? MODELGATE_USAGE : undefined;

/** Runs `modelgate ARGS` and returns the exit code. */
export async function run(args: string[]): Promise<number> {
  if (BUILT_USAGE !== undefined && args.length <= 1) {
    // Same answers as compiler/cli/main.ts: usage on stderr and exit 2 without a command.
    if (args[0] === undefined) {
      process.stderr.write(BUILT_USAGE);
      return 2;
    }
    if (['--help', '-h', 'help'].includes(args[0])) {
      process.stdout.write(BUILT_USAGE);
      return 0;
    }
  }
  if (args[0] === 'serve') {
    // The gateway logs JSON lines: third-party warnings (an SDK's Node support notice, google-auth's
    // metadata lookup) become JSON lines too, instead of plain text in the middle of the stream.
    jsonWarnings(process);
    const { main } = await import('../runtime/main.ts');
    return main(args);
  }
  const { main } = await import('../compiler/cli/main.ts');
  const services: CliServices = {
    secretSources: async () => (await import('../runtime/secrets/default-sources.ts')).defaultSecretSources(),
  };
  return main(args, services);
}
