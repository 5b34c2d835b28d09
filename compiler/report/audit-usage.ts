// What the gateway's audit logs say the review needs: which (principal, model) grants were used in
// the window, and when each API key last authenticated. Read as plain JSON lines (never through
// the runtime's code), streaming, in memory that grows with the grants used, not with the lines.
import { readLines } from '../usage/read-lines.ts';
import { UsageInputError } from '../usage/usage-report.ts';

export interface AuditUsage {
  files: number;
  lines: number;
  /** Audit lines in the window. */
  requests: number;
  first?: string;
  last?: string;
  /** `${principal id} ${model}` of allowed requests in the window. */
  used: Set<string>;
  /** API key id -> the latest time (ms) a request authenticated with it, up to the review date. */
  keyLastUsed: Map<string, number>;
}

export interface UsageWindow {
  /** Inclusive; null: from the start of the logs. */
  fromMs: number | null;
  /** Inclusive: the review date. */
  toMs: number;
}

// Caller-chosen fields are bounded in the line (256 characters); anything longer is not ours.
const MAX_FIELD = 300;

/** Reads every audit log; an input that cannot be read is a UsageInputError naming it. */
export async function readAuditUsage(inputs: readonly string[], window: UsageWindow): Promise<AuditUsage> {
  const usage: AuditUsage = { files: inputs.length, lines: 0, requests: 0, used: new Set(), keyLastUsed: new Map() };
  let firstMs = Number.POSITIVE_INFINITY;
  let lastMs = Number.NEGATIVE_INFINITY;
  const sink = {
    overlong() {},
    line(text: string) {
      usage.lines++;
      if (!text.includes('"audit"')) return;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      if (line.audit !== true) return;
      const time = typeof line.time === 'string' ? Date.parse(line.time) : typeof line.time === 'number' ? line.time : Number.NaN;
      if (!Number.isFinite(time) || time > window.toMs) return;
      const key = bounded(line.credential_id);
      if (key !== undefined && line.auth_failure === undefined && bounded(line.principal_id) !== undefined) {
        if (time > (usage.keyLastUsed.get(key) ?? Number.NEGATIVE_INFINITY)) usage.keyLastUsed.set(key, time);
      }
      if (window.fromMs !== null && time < window.fromMs) return;
      usage.requests++;
      firstMs = Math.min(firstMs, time);
      lastMs = Math.max(lastMs, time);
      const principal = bounded(line.principal_id);
      const model = bounded(line.model);
      if (line.decision === 'allow' && principal !== undefined && model !== undefined) usage.used.add(`${principal} ${model}`);
    },
  };
  for (const input of inputs) {
    try {
      await readLines(input, sink);
    } catch (error) {
      throw new UsageInputError(input, error);
    }
  }
  if (usage.requests > 0) {
    usage.first = new Date(firstMs).toISOString();
    usage.last = new Date(lastMs).toISOString();
  }
  return usage;
}

function bounded(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_FIELD ? value : undefined;
}
