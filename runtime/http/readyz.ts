// The secrets part of /readyz: one line per reference (the reference text and its accounts, never
// the value), and the one case where secrets make the gateway unready: every account of the active
// bundle needs a key and none has one (this instance can serve nothing; another may).
import type { ActiveBundle } from '../bundle/activate.ts';
import type { SecretStatus } from '../secrets/resolve.ts';

export interface SecretReadiness {
  /** False only when every account of the bundle is unavailable for want of its key. */
  ready: boolean;
  body: Record<string, unknown>;
}

/** Summarises the resolver's status for /readyz at nowMs. */
export function secretReadiness(active: ActiveBundle | null, statuses: readonly SecretStatus[], nowMs: number): SecretReadiness {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const counts = { ok: 0, stale: 0, unavailable: 0, pending: 0 };
  const byRef = new Map<string, SecretStatus>();
  for (const status of statuses) {
    counts[status.state] += 1;
    byRef.set(status.ref, status);
  }
  const providers = active?.providers ?? [];
  const servable = providers.filter((p) => p.secretRef === undefined || byRef.get(p.secretRef)?.state !== 'unavailable').length;
  return {
    ready: providers.length === 0 || servable > 0,
    body: {
      ...counts,
      references: statuses.map((s) => ({
        ref: s.ref,
        accounts: s.accounts,
        state: s.state,
        age_seconds: s.fetchedAtMs === null ? null : Math.max(0, Math.round((nowMs - s.fetchedAtMs) / 1000)),
        fetched_at: iso(s.fetchedAtMs),
        failing_since: iso(s.failingSinceMs),
        last_error: s.lastError === null ? null : { reason: s.lastError.reason, message: s.lastError.message, at: iso(s.lastError.atMs) },
      })),
    },
  };
}
