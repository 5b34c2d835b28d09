// Stage 4: what the lifecycle knows about itself (for /readyz, the log and metrics), and whether
// its active bundle may serve.
import type { BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import type { ActiveBundle } from './activate.ts';

export type ExpiryPolicy = 'fail-closed' | 'serve-stale';

export interface BundleStatus {
  /** The last refusal, cleared when a bundle activates or the active one is confirmed unchanged. */
  lastError: { code: BundleErrorCode; message: string; atMs: number } | null;
  lastCheckMs: number | null;
  lastActivationMs: number | null;
}

/** True when model routes may serve from this bundle at nowMs. */
export function isServable(active: ActiveBundle | null, nowMs: number, policy: ExpiryPolicy): active is ActiveBundle {
  return active !== null && (active.expiresAtMs > nowMs || policy === 'serve-stale');
}
