// The runtime's operations log (pino): startup, bundle activations, secret reads, failures.
// Audit lines have their own stream (runtime/audit/audit-log.ts), which no log level silences.
// Nothing logs request headers, URLs with query strings, or bodies, so keys and prompts cannot reach it.
import pino, { type DestinationStream, type Logger } from 'pino';
import { batchedDestination } from './destination.ts';

export type { Logger };

/** A JSON-lines logger to stdout (or the given stream, for tests and the benchmark). */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const destination = options.destination ?? batchedDestination(1);
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'modelgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
