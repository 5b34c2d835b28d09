// Re-signing the last good policy: the same grants, a new serial, created_at and expires_at. What
// keeps gateways serving when the policies cannot compile for a reason that is not a policy change
// (a GitHub team changed, so the committed lock is out of date).
import type { BundlePayload } from '../../schemas/types.generated.ts';

export interface ResignMeta {
  serial: number;
  createdAt: Date;
  lifetimeMs: number;
}

/** The payload with a new serial and dates; everything else (revision included) as it was signed. */
export function resignPayload(payload: BundlePayload, meta: ResignMeta): BundlePayload {
  return {
    ...payload,
    serial: meta.serial,
    created_at: meta.createdAt.toISOString(),
    expires_at: new Date(meta.createdAt.getTime() + meta.lifetimeMs).toISOString(),
  };
}

/** The lifetime the payload was signed with (expires_at - created_at). */
export function signedLifetimeMs(payload: Pick<BundlePayload, 'created_at' | 'expires_at'>): number {
  return Date.parse(payload.expires_at) - Date.parse(payload.created_at);
}
