// Step 5 of the request path: one audit line per request, and the request metrics.
// What goes in: identities by id (principal, key id), the decision and the rule that granted it,
// timings, usage, the bundle serial. What never goes in: keys, prompts, headers, query strings.
import type { Logger } from 'pino';
import type { Usage } from '../proxy/usage.ts';
import type { RuntimeMetrics } from './metrics.ts';

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

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/**
 * Writes the audit line and updates the request metrics. Absent values are left out rather than
 * written as null: the line stays short, and pino's cost is per field.
 */
export function writeAudit(logger: Logger, metrics: RuntimeMetrics, record: RequestRecord): void {
  const latencyMs = performance.now() - record.startedMs;
  const line: Record<string, unknown> = { audit: true, request_id: record.requestId, method: record.method, route: record.route };
  if (record.principal !== null) line.principal = record.principal;
  if (record.principalId !== null) line.principal_id = record.principalId;
  if (record.credentialId !== null) line.credential_id = record.credentialId;
  if (record.issuer !== null) line.issuer = record.issuer;
  if (record.authReason !== null) line.auth_failure = record.authReason;
  if (record.model !== null) line.model = record.model;
  if (record.account !== null) line.account = record.account;
  if (record.decision !== null) line.decision = record.decision;
  if (record.rule !== null) line.rule = record.rule;
  if (record.denyReason !== null) line.deny_reason = record.denyReason;
  line.status = record.status;
  if (record.code !== null) line.code = record.code;
  if (record.outcome !== null) line.outcome = record.outcome;
  line.latency_ms = round(latencyMs);
  if (record.upstreamMs !== null) line.upstream_latency_ms = round(record.upstreamMs);
  if (record.usage !== null) line.usage = record.usage;
  if (record.bundleSerial !== null) line.bundle_serial = record.bundleSerial;
  logger.info(line, 'request');
  const principal = record.principal ?? 'anonymous';
  const model = record.model !== null && record.decision === 'allow' ? record.model : 'none';
  metrics.request(principal, model, record.route, record.status, latencyMs / 1000);
  if (record.upstreamMs !== null && record.account !== null) metrics.upstream(record.account, record.upstreamMs / 1000);
  if (record.usage !== null && record.model !== null) metrics.tokens(principal, record.model, record.usage);
}
