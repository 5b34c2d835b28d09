export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Returns the exit code: 0 success, 1 policy or input error, 2 usage or environment error. */
  run(args: string[]): Promise<number>;
}
