// The runtime's pino logger. Audit lines and operational lines share it; nothing logs request
// headers, URLs with query strings, or bodies, so keys and prompts cannot reach it.
import pino, { type DestinationStream, type Logger } from 'pino';
import { batchedDestination } from './destination.ts';

export type { Logger };

/** Writes a preformatted info line (the audit line) to a logger's destination. */
export interface LineSink {
  /** `{"level":"info","time":"...","service":"modelgate"` + fields + `,"msg":"..."}\n` */
  info(fields: string, msg: string): void;
}

// The loggers made by createLogger, with a sink that writes lines in their exact format to their
// destination. Audit lines are built as text (see audit-line.ts) and skip pino's object path.
const sinks = new WeakMap<Logger, LineSink>();

/** A JSON-lines logger to stdout (or the given stream, for tests and the benchmark). */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const destination = options.destination ?? batchedDestination(1);
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: 'modelgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  // Same prefix and order as pino: level, time, base bindings, fields, msg. The time text is
  // reused within a millisecond (toISOString is ~0.5 us; under load many lines share a ms).
  let lastMs = -1;
  let prefix = '';
  let lastMsg = '';
  let msgText = '';
  sinks.set(logger, {
    info(fields, msg) {
      const nowMs = Date.now();
      if (nowMs !== lastMs) {
        lastMs = nowMs;
        prefix = `{"level":"info","time":"${new Date(nowMs).toISOString()}","service":"modelgate"`;
      }
      if (msg !== lastMsg) {
        lastMsg = msg;
        msgText = `,"msg":${JSON.stringify(msg)}}\n`;
      }
      destination.write(prefix + fields + msgText);
    },
  });
  return logger;
}

/**
 * The line sink of a logger made by createLogger, when info is enabled; undefined for any other
 * logger (a child, or one built elsewhere), whose lines then go through pino.
 */
export function infoSink(logger: Logger): LineSink | undefined {
  return logger.isLevelEnabled('info') ? sinks.get(logger) : undefined;
}
