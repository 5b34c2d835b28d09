// Step 5 of the request path: the audit line and the request metrics. Only the request's ending
// (http/request-ending.ts) calls it, so that every request has exactly one line.
import type { RuntimeMetrics } from '../metrics/runtime-metrics.ts';
import { auditFields } from './audit-line.ts';
import type { AuditLog } from './audit-log.ts';
import type { RequestRecord } from './record.ts';

/**
 * Writes the audit line (to the audit log, whatever the operations log's level) and updates the
 * request metrics. Metric labels come from the bundle (principal ids, model FQNs, accounts),
 * never from what a caller sent: anything else is 'unknown'.
 */
export function writeAudit(audit: AuditLog, metrics: RuntimeMetrics, record: RequestRecord): void {
  const latencyMs = performance.now() - record.startedMs;
  audit.write(auditFields(record, latencyMs));
  if (record.inFlight) {
    record.inFlight = false;
    metrics.inFlight(-1);
  }
  const principal = record.principalId ?? 'anonymous';
  const model = record.knownModel ? (record.model as string) : 'unknown';
  metrics.request(principal, model, record.route, record.status, latencyMs / 1000);
  if (record.upstreamMs !== null && record.account !== null) metrics.upstream(record.account, record.upstreamMs / 1000);
  if (record.ttftMs !== null) metrics.timeToFirstToken(model, record.ttftMs / 1000);
  if (record.usage !== null) metrics.tokens(principal, model, record.usage);
}
