// Captures every log line a gateway writes, so tests can assert on them and search them for secrets.
import { Writable } from 'node:stream';
import { type AuditLog, lineAuditLog } from '../../runtime/audit/audit-log.ts';
import { createLogger, type Logger } from '../../runtime/logging/logger.ts';
import { checkAuditLine } from './audit-schema.ts';

export interface LogCapture {
  logger: Logger;
  /** The audit log: its lines go to lines too, in order with the operations log's. */
  audit: AuditLog;
  /** Every audit line written (also in lines). */
  auditLines: string[];
  lines: string[];
  /** Parsed lines, optionally only those with the given msg. */
  entries(msg?: string): Record<string, unknown>[];
}

export function captureLogs(): LogCapture {
  const lines: string[] = [];
  let partial = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line !== '') lines.push(line);
      callback();
    },
  });
  // A synchronous-enough destination: pino writes to the stream directly.
  const logger = createLogger({ level: 'debug', destination: sink });
  const auditLines: string[] = [];
  const audit = lineAuditLog((line) => {
    const text = line.slice(0, -1); // without its newline
    checkAuditLine(text);
    lines.push(text);
    auditLines.push(text);
  });
  return {
    logger,
    audit,
    auditLines,
    lines,
    entries(msg) {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => msg === undefined || e.msg === msg);
    },
  };
}

/** The secrets (or any fragment of 12+ chars of them) found in the lines. */
export function leakedSecrets(lines: readonly string[], secrets: readonly string[]): string[] {
  const leaks: string[] = [];
  for (const secret of secrets) {
    const fragments = [secret, ...(secret.length > 24 ? [secret.slice(0, 16), secret.slice(-16)] : [])];
    if (lines.some((line) => fragments.some((f) => line.includes(f)))) leaks.push(secret.slice(0, 6) + '...');
  }
  return leaks;
}
