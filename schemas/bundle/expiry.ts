// When a bundle stops being valid: one rule for the runtime's activation, `verify` and `publish`.
import type { BundlePayload } from '../types.generated.ts';

/** True when the payload is past its expires_at at nowMs (expiry is exclusive: at expires_at it is expired). */
export function isBundleExpired(payload: Pick<BundlePayload, 'expires_at'>, nowMs: number): boolean {
  return Date.parse(payload.expires_at) <= nowMs;
}
