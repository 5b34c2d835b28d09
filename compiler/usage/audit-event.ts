// One audit line as the usage report reads it: plain JSON, the fields documented in docs/audit.md
// and docs/runtime.md (the CLI does not import the runtime; the line is the contract). Lines that
// are not audit lines (the operations log shares the stream) are told apart from lines that are
// not JSON at all.
import { fastFields, type LineFields } from './fast-fields.ts';

export type GroupBy = 'principal' | 'team' | 'model' | 'account' | 'key';
export const GROUP_BYS: readonly GroupBy[] = ['principal', 'team', 'model', 'account', 'key'];

/** What one request adds to its group. */
export interface AuditEvent {
  timeMs: number;
  /** The group's name, "-" when the line has no such field. */
  group: string;
  denied: boolean;
  error: boolean;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number | null;
}

/** Where each grouping reads its name: team is `via`, the team or group a grant came through; key is `credential_id`. */
const FIELD: Record<GroupBy, string> = { principal: 'principal', team: 'via', model: 'model', account: 'account', key: 'credential_id' };

/** The longest group name kept; longer ones are cut (model names are caller-chosen, up to 256 characters plus a marker in the line). */
export const GROUP_NAME_MAX = 300;

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0);

/** The time of a line: pino's `time`, epoch milliseconds or an ISO text. NaN when absent or unreadable. */
function timeOf(value: unknown): number {
  if (typeof value === 'number') return value;
  return typeof value === 'string' ? Date.parse(value) : Number.NaN;
}

/** The report's fields of a line through JSON.parse; 'other' or 'malformed' when it has none. */
function parsedFields(line: string, groupField: string): LineFields | 'other' | 'malformed' {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'malformed';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'malformed';
  const v = value as Record<string, unknown>;
  if (v.audit !== true) return 'other';
  const usage = typeof v.usage === 'object' && v.usage !== null ? (v.usage as Record<string, unknown>) : {};
  return {
    audit: v.audit,
    time: v.time,
    status: v.status,
    group: v[groupField],
    decision: v.decision,
    authFailure: v.auth_failure,
    latency: v.latency_ms,
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
  };
}

/**
 * The event of a line: an AuditEvent, 'other' for valid JSON that is not an audit line (no
 * `"audit":true`), 'malformed' for anything else (not JSON, no readable time or status). Lines of
 * the gateway's own shape are read without JSON.parse (fast-fields.ts), with the same answer.
 */
export function readAuditLine(line: string, by: GroupBy): AuditEvent | 'other' | 'malformed' {
  const fields = fastFields(line, FIELD[by]) ?? parsedFields(line, FIELD[by]);
  if (typeof fields === 'string') return fields;
  const timeMs = timeOf(fields.time);
  const status = fields.status;
  if (Number.isNaN(timeMs) || typeof status !== 'number') return 'malformed';
  const name = fields.group;
  const group = typeof name === 'string' && name !== '' ? name.slice(0, GROUP_NAME_MAX) : '-';
  // Refused by the gateway: no grant (decision deny) or no valid credential (auth_failure).
  const denied = fields.decision === 'deny' || (typeof fields.authFailure === 'string' && fields.authFailure !== '');
  const latency = fields.latency;
  return {
    timeMs,
    group,
    denied,
    error: !denied && status >= 400,
    promptTokens: count(fields.promptTokens),
    completionTokens: count(fields.completionTokens),
    latencyMs: typeof latency === 'number' && Number.isFinite(latency) && latency >= 0 ? latency : null,
  };
}
