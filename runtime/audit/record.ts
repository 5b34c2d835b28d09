// Step 5 of the request path: one audit line per request, and the request metrics.
// What goes in: identities by id (principal, key id), the decision and the rule that granted it,
// timings, usage, the bundle serial. What never goes in: keys, prompts, headers, query strings.
import type { Logger } from 'pino';
import type { Usage } from '../proxy/usage.ts';
import { auditFields } from './audit-line.ts';
import { infoSink } from '../logging/logger.ts';
import type { RuntimeMetrics } from '../metrics/runtime-metrics.ts';

export interface RequestRecord {
  requestId: string;
  method: string;
  /** The matched route pattern, never the raw URL (a query string may hold a pasted key). */
  route: string;
  startedMs: number;
  bundleSerial: number | null;
  principal: string | null;
  principalId: string | null;
  /** API key id, or the OIDC token's subject (never the credential). */
  credentialId: string | null;
  /** The OIDC issuer of the token, for token-authenticated requests. */
  issuer: string | null;
  authReason: string | null;
  model: string | null;
  account: string | null;
  decision: 'allow' | 'deny' | null;
  rule: string | null;
  denyReason: string | null;
  status: number;
  code: string | null;
  outcome: string | null;
  upstreamMs: number | null;
  usage: Usage | null;
}

/** A blank record for a request that just arrived. */
export function newRecord(requestId: string, method: string, route: string): RequestRecord {
  return {
    requestId,
    method,
    route,
    startedMs: performance.now(),
    bundleSerial: null,
    principal: null,
    principalId: null,
    credentialId: null,
    issuer: null,
    authReason: null,
    model: null,
    account: null,
    decision: null,
    rule: null,
    denyReason: null,
    status: 0,
    code: null,
    outcome: null,
    upstreamMs: null,
    usage: null,
  };
}

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
