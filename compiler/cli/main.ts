// The modelgate command line (every command but `serve`, which lives in the runtime).

import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { wantsJson } from './args.ts';
import type { Command } from './command.ts';
import { auditHistoryCommand } from './commands/audit-history.ts';
import { auditWhoCanCommand } from './commands/audit-who-can.ts';
import { checkCommand } from './commands/check.ts';
import { compileCommand } from './commands/compile.ts';
import { explainCommand } from './commands/explain.ts';
import { initCommand } from './commands/init.ts';
import { keygenCommand } from './commands/keygen.ts';
import { keysCreateCommand } from './commands/keys-create.ts';
import { keysListCommand } from './commands/keys-list.ts';
import { keysRevokeCommand } from './commands/keys-revoke.ts';
import { loginCommand, tokenCommand } from './commands/login.ts';
import { planCommand } from './commands/plan.ts';
import { publishCommand } from './commands/publish.ts';
import { reportAccessCommand } from './commands/report-access.ts';
import { resignCommand } from './commands/resign.ts';
import { secretsCheckCommand } from './commands/secrets-check.ts';
import { usageCommand } from './commands/usage.ts';
import { verifyCommand } from './commands/verify.ts';
import { EnvironmentError, toCliError } from './errors.ts';
import { printFailure } from './output.ts';

/** What the compiler's commands need from outside the compiler, handed in by bin/modelgate.js. */
export interface CliServices {
  /** The runtime's secret readers, for `secrets check`. */
  secretSources(): Promise<SecretSource[]>;
}

const NO_SECRET_SOURCES: CliServices = {
  secretSources: () => Promise.reject(new EnvironmentError('this build of the CLI has no secret readers')),
};

function commandsWith(services: CliServices): Command[] {
  return [
    checkCommand,
    compileCommand,
    resignCommand,
    verifyCommand,
    publishCommand,
    explainCommand,
    planCommand,
    auditWhoCanCommand,
    auditHistoryCommand,
    reportAccessCommand,
    usageCommand,
    keysCreateCommand,
    keysListCommand,
    keysRevokeCommand,
    keygenCommand,
    initCommand,
    loginCommand,
    tokenCommand,
    secretsCheckCommand(services.secretSources),
  ];
}

// The list the usage text is built from (services are not called to build it).
const COMMANDS = commandsWith(NO_SECRET_SOURCES);

const USAGE = `modelgate: access control for an LLM gateway, run as GitOps

Usage: modelgate <command> [options]    (modelgate <command> --help for details)

${COMMANDS.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`).join('\n')}
  ${'serve'.padEnd(14)} run the gateway on a signed bundle

Exit codes: 0 success, 1 policy or input error, 2 usage or environment error.`;

/** Runs the CLI and returns the exit code. */
export async function main(args: string[], services: CliServices = NO_SECRET_SOURCES): Promise<number> {
  const commands = commandsWith(services);
  const [first, second] = args;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    (first === undefined ? process.stderr : process.stdout).write(USAGE + '\n');
    return first === undefined ? 2 : 0;
  }
  const twoWord = commands.find((c) => c.name === `${first} ${second ?? ''}`);
  const command = twoWord ?? commands.find((c) => c.name === first);
  const rest = args.slice(twoWord ? 2 : 1);
  if (command === undefined) {
    const group = commands.some((c) => c.name.startsWith(`${first} `));
    process.stderr.write(`modelgate: unknown command "${first}${group && second ? ` ${second}` : ''}"\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    // The one place a failure becomes output and an exit code.
    const failure = toCliError(error);
    printFailure(failure, command.name, wantsJson(rest));
    return failure.exitCode;
  }
}
