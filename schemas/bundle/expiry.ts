// When a bundle is valid in time: one rule for the runtime's activation, `verify` and `publish`.
import type { BundlePayload } from '../types.generated.ts';

/**
 * How far a bundle's created_at may be ahead of the clock that judges it. CI runners and gateways
 * run NTP, so a few minutes covers honest skew; anything further is a bundle signed with a wrong
 * or chosen clock, whose serial (unix seconds of created_at by default) would become every
 * gateway's floor and make every correctly dated bundle after it look like a rollback.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** True when the payload is past its expires_at at nowMs (expiry is exclusive: at expires_at it is expired). */
export function isBundleExpired(payload: Pick<BundlePayload, 'expires_at'>, nowMs: number): boolean {
  return Date.parse(payload.expires_at) <= nowMs;
}

/** True when created_at is more than skewMs after nowMs: refuse it before its serial is trusted as a floor. */
export function createdInFuture(payload: Pick<BundlePayload, 'created_at'>, nowMs: number, skewMs: number = MAX_CLOCK_SKEW_MS): boolean {
  return Date.parse(payload.created_at) > nowMs + skewMs;
}
