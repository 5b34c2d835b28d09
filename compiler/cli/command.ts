// What main.ts needs of a command.
export interface Command {
  name: string;
  summary: string;
  usage: string;
  /**
   * Prints the result and returns the exit code: 0 success, 1 when the answer is no (`check` with
   * errors, a secret that cannot be read). Failures are thrown (CliError, or a domain error that
   * toCliError maps) and printed by main.
   */
  run(args: string[]): Promise<number>;
}
