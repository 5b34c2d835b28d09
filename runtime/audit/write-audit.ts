// Step 5 of the request path: the audit line and the request metrics. Only the request's ending
// (http/ending.ts) calls it, so that every request has exactly one line.
import type { Logger } from 'pino';
import { infoSink } from '../logging/logger.ts';
import type { RuntimeMetrics } from '../metrics/runtime-metrics.ts';
import { auditFields } from './audit-line.ts';
import type { RequestRecord } from './record.ts';

/**
 * Writes the audit line and updates the request metrics. Absent values are left out rather than
 * written as null. Lines of our own logger are built as text (audit-line.ts); any other logger
 * gets the same fields through pino.
 */
export function writeAudit(logger: Logger, metrics: RuntimeMetrics, record: RequestRecord): void {
  const latencyMs = performance.now() - record.startedMs;
  const sink = infoSink(logger);
  if (sink !== undefined) sink.info(auditFields(record, latencyMs), 'request');
  else if (logger.isLevelEnabled('info')) logger.info(JSON.parse(`{${auditFields(record, latencyMs).slice(1)}}`) as object, 'request');
  const principal = record.principal ?? 'anonymous';
  const model = record.model !== null && record.decision === 'allow' ? record.model : 'none';
  metrics.request(principal, model, record.route, record.status, latencyMs / 1000);
  if (record.upstreamMs !== null && record.account !== null) metrics.upstream(record.account, record.upstreamMs / 1000);
  if (record.usage !== null && record.model !== null) metrics.tokens(principal, record.model, record.usage);
}
