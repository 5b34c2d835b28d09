// `modelgate usage` without the command line: inputs in, report out (also what bench:usage runs).

import { UsageAggregator, type UsageReport } from './aggregate.ts';
import type { GroupBy } from './audit-event.ts';
import { readLines } from './read-lines.ts';

export interface UsageOptions {
  inputs: readonly string[];
  by: GroupBy;
  sinceMs: number | null;
  untilMs: number | null;
  /** Called with the decoded byte count after each chunk read (progress). */
  onBytes?: (bytes: number) => void;
}

/** Thrown when an input cannot be read (missing, unreadable, not valid gzip), naming it. */
export class UsageInputError extends Error {
  constructor(
    readonly input: string,
    cause: unknown,
  ) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(`cannot read ${input === '-' ? 'stdin' : input}: ${typeof code === 'string' ? `${code} ` : ''}${(cause as Error).message}`, { cause });
    this.name = 'UsageInputError';
  }
}

/** Reads every input in turn, streaming, and aggregates its audit lines. */
export async function usageReport(options: UsageOptions): Promise<UsageReport> {
  const aggregator = new UsageAggregator(options.by, options.sinceMs, options.untilMs);
  const sink = { line: (text: string) => aggregator.addLine(text), overlong: () => aggregator.addOverlong() };
  for (const input of options.inputs) {
    try {
      await readLines(input, sink, options.onBytes);
    } catch (error) {
      throw new UsageInputError(input, error);
    }
  }
  return aggregator.report();
}
