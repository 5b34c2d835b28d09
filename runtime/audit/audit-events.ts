// What a failing audit log does besides keeping its lines: counts the failure
// (modelgate_audit_write_errors_total, modelgate_audit_lines_lost_total) and says so in the
// operations log, at error level: once when it starts failing, then at most every 10 seconds
// while it goes on (a full disk must not also flood the operations log), and once when it recovers.
import type { Logger } from '../logging/logger.ts';
import type { RuntimeMetrics } from '../metrics/runtime-metrics.ts';
import type { AuditLogEvents } from './audit-log.ts';

const REPEAT_MS = 10_000;

export function auditEvents(logger: Logger, metrics: RuntimeMetrics, auditRequired: boolean, now: () => number = Date.now): AuditLogEvents {
  let failing = false;
  let lastLogMs = 0;
  let failures = 0;
  let lost = 0;
  return {
    writeFailed(error, lostLines) {
      metrics.auditWriteFailed(lostLines);
      failures += 1;
      lost += lostLines;
      const at = now();
      if (failing && at - lastLogMs < REPEAT_MS) return;
      failing = true;
      lastLogMs = at;
      logger.error(
        { event: 'audit_write_failed', reason: error.code ?? 'error', detail: error.message, failures, lines_lost: lost, audit_required: auditRequired },
        auditRequired ? 'audit log write failed: model requests are refused (503 MG_AUDIT_UNAVAILABLE) until it writes again' : 'audit log write failed',
      );
      failures = 0;
      lost = 0;
    },
    recovered() {
      failing = false;
      logger.warn({ event: 'audit_write_recovered' }, 'audit log writing again');
    },
  };
}
