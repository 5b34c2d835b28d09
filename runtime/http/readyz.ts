// The /readyz answer, all of it: the active bundle (serial, revision, age, expiry), the last
// bundle error, and the provider secrets (one line per reference: its text and accounts, never the
// value). Ready while a bundle is servable, unless secrets leave this instance able to serve
// nothing: every account of the bundle needs a key and none has one (another instance may).
import type { ActiveBundle } from '../bundle/activate.ts';
import { type BundleStatus, type ExpiryPolicy, isServable } from '../bundle/status.ts';
import type { SecretStatus } from '../secrets/resolve.ts';

export interface Readiness {
  ready: boolean;
  body: Record<string, unknown>;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The /readyz status (ready or not) and body at nowMs. */
export function readyz(active: ActiveBundle | null, status: BundleStatus, secrets: readonly SecretStatus[], nowMs: number, policy: ExpiryPolicy): Readiness {
  const keys = secretReadiness(active, secrets, nowMs);
  const ready = isServable(active, nowMs, policy) && keys.ready;
  const lastError = status.lastError === null ? null : { code: status.lastError.code, message: status.lastError.message, at: iso(status.lastError.atMs) };
  if (active === null) return { ready, body: { ready, bundle: null, last_error: lastError, secrets: keys.body } };
  const expired = active.expiresAtMs <= nowMs;
  return {
    ready,
    body: {
      ready,
      bundle: {
        serial: active.serial,
        revision: active.revision,
        digest: active.digest,
        created_at: iso(active.createdAtMs),
        expires_at: iso(active.expiresAtMs),
        age_seconds: Math.max(0, Math.round((nowMs - active.createdAtMs) / 1000)),
        expired,
        ...(expired ? { expiry_policy: policy } : {}),
      },
      last_error: lastError,
      last_check: iso(status.lastCheckMs),
      secrets: keys.body,
    },
  };
}

/** /readyz's status and body, from the settings of a server; draining (a shutdown began) is never ready. */
export function readinessAnswer(
  bundles: { readonly current: ActiveBundle | null; readonly status: BundleStatus },
  secrets: { status(): readonly SecretStatus[] },
  nowMs: number,
  policy: ExpiryPolicy,
  draining: boolean,
): { status: number; body: Record<string, unknown> } {
  const { ready, body } = readyz(bundles.current, bundles.status, secrets.status(), nowMs, policy);
  // Draining: not ready, whatever the bundle, so that the load balancer stops sending first.
  if (draining) return { status: 503, body: { ...body, ready: false, draining: true } };
  return { status: ready ? 200 : 503, body };
}

/** The secrets part of /readyz; not ready only when every account of the bundle lacks its key. */
export function secretReadiness(active: ActiveBundle | null, statuses: readonly SecretStatus[], nowMs: number): Readiness {
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
