// Stage 4: what the lifecycle knows about itself, for /readyz, the log and metrics.
import type { BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import type { ActiveBundle } from './activate.ts';

export type ExpiryPolicy = 'fail-closed' | 'serve-stale';

export interface BundleStatus {
  /** The last refusal, cleared when a bundle activates or the active one is confirmed unchanged. */
  lastError: { code: BundleErrorCode; message: string; atMs: number } | null;
  lastCheckMs: number | null;
  lastActivationMs: number | null;
}

export interface Readiness {
  ready: boolean;
  body: Record<string, unknown>;
}

/** True when model routes may serve from this bundle at nowMs. */
export function isServable(active: ActiveBundle | null, nowMs: number, policy: ExpiryPolicy): active is ActiveBundle {
  return active !== null && (active.expiresAtMs > nowMs || policy === 'serve-stale');
}

/** The /readyz answer: ready while a bundle is servable; the last error shows either way. */
export function readiness(active: ActiveBundle | null, status: BundleStatus, nowMs: number, policy: ExpiryPolicy): Readiness {
  const lastError = status.lastError === null ? null : { code: status.lastError.code, message: status.lastError.message, at: new Date(status.lastError.atMs).toISOString() };
  if (active === null) return { ready: false, body: { ready: false, bundle: null, last_error: lastError } };
  const expired = active.expiresAtMs <= nowMs;
  return {
    ready: isServable(active, nowMs, policy),
    body: {
      ready: isServable(active, nowMs, policy),
      bundle: {
        serial: active.serial,
        revision: active.revision,
        digest: active.digest,
        created_at: new Date(active.createdAtMs).toISOString(),
        expires_at: new Date(active.expiresAtMs).toISOString(),
        age_seconds: Math.max(0, Math.round((nowMs - active.createdAtMs) / 1000)),
        expired,
        ...(expired ? { expiry_policy: policy } : {}),
      },
      last_error: lastError,
      last_check: status.lastCheckMs === null ? null : new Date(status.lastCheckMs).toISOString(),
    },
  };
}
