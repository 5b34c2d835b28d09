// Runs the real `modelgate` command in a child process, as users and CI do.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { scaled } from './time-scale.ts';

const BIN = fileURLToPath(new URL('../../bin/modelgate.js', import.meta.url));

/** A command still running after this is hung: it is killed and the result says so. */
const CLI_HANG_GUARD_MS = scaled(20_000);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `modelgate args`; `input`, when given, is written to its stdin. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const execOptions = {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: CLI_HANG_GUARD_MS,
      killSignal: 'SIGKILL' as const,
    };
    const child = execFile(process.execPath, [BIN, ...args], execOptions, (error, stdout, stderr) => {
      if (error?.killed === true)
        stderr += `\n[run-cli] modelgate ${args.join(' ')} killed after the ${CLI_HANG_GUARD_MS} ms hang guard (MG_TEST_TIME_SCALE)\n`;
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
