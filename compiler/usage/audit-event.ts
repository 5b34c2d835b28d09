// One audit line as the usage report reads it: plain JSON, the fields documented in docs/audit.md
// and docs/runtime.md (the CLI does not import the runtime; the line is the contract). Lines that
// are not audit lines (the operations log shares the stream) are told apart from lines that are
// not JSON at all.

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

/**
 * The event of a line: an AuditEvent, 'other' for valid JSON that is not an audit line (no
 * `"audit":true`), 'malformed' for anything else (not JSON, no readable time or status).
 */
export function readAuditLine(line: string, by: GroupBy): AuditEvent | 'other' | 'malformed' {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return 'malformed';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'malformed';
  if (value.audit !== true) return 'other';
  const timeMs = timeOf(value.time);
  const status = value.status;
  if (Number.isNaN(timeMs) || typeof status !== 'number') return 'malformed';
  const name = value[FIELD[by]];
  const group = typeof name === 'string' && name !== '' ? name.slice(0, GROUP_NAME_MAX) : '-';
  // Refused by the gateway: no grant (decision deny) or no valid credential (auth_failure).
  const denied = value.decision === 'deny' || (typeof value.auth_failure === 'string' && value.auth_failure !== '');
  const usage = typeof value.usage === 'object' && value.usage !== null ? (value.usage as Record<string, unknown>) : {};
  const latency = value.latency_ms;
  return {
    timeMs,
    group,
    denied,
    error: !denied && status >= 400,
    promptTokens: count(usage.prompt_tokens),
    completionTokens: count(usage.completion_tokens),
    latencyMs: typeof latency === 'number' && Number.isFinite(latency) && latency >= 0 ? latency : null,
  };
}
