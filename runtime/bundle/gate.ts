// Stage 3a: decide whether a verified bundle may replace the active one (audience, creation time,
// serial floor, expiry, in that order). Pure: it runs in the activation worker before the layouts
// are built, and again on the main thread just before the swap.

import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { createdInFuture, isBundleExpired, MAX_CLOCK_SKEW_MS } from '../../schemas/bundle/expiry.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { ALLOW_ALL, checkAllowList, type OperatorAllowList } from './allow-list.ts';

/** What the gate reads of a bundle: a VerifiedBundle, or the small part of a compact one. */
export interface GateInput {
  payload: Pick<BundlePayload, 'audience' | 'created_at' | 'serial' | 'expires_at' | 'providers'>;
  digest: string;
}

/** The highest serial ever activated here, with its digest: rollback protection across restarts. */
export interface SerialFloor {
  serial: number;
  digest: string;
}

export interface ActivationGate {
  audience: string;
  active: SerialFloor | null;
  floor: SerialFloor | null;
  nowMs: number;
  /** The bundle comes from our own cache at boot and expired bundles may keep serving (serve-stale). */
  acceptExpired: boolean;
  /** The operator's allow-lists (default: anything). */
  allow?: OperatorAllowList;
}

/** 'activate', or 'unchanged' for the active bundle seen again; throws BundleError for a refusal. */
export function checkActivation(bundle: GateInput, gate: ActivationGate): 'activate' | 'unchanged' {
  const { payload, digest } = bundle;
  if (payload.audience !== gate.audience) {
    throw new BundleError('MG_BUNDLE_AUDIENCE', `the bundle is for audience "${payload.audience}", this gateway serves "${gate.audience}"`);
  }
  // Refused before the serial is looked at: activating it would raise the serial floor to a value
  // that every honest bundle published until then would be a rollback against.
  if (createdInFuture(payload, gate.nowMs)) {
    throw new BundleError(
      'MG_BUNDLE_CREATED_IN_FUTURE',
      `the bundle was created at ${payload.created_at}, later than this gateway's clock allows (${MAX_CLOCK_SKEW_MS / 60_000} min of skew)`,
    );
  }
  const known = highest(gate.active, gate.floor);
  if (known !== null) {
    if (payload.serial < known.serial) {
      throw new BundleError('MG_BUNDLE_ROLLBACK', `bundle serial ${payload.serial} is older than serial ${known.serial} already activated`);
    }
    if (payload.serial === known.serial) {
      if (digest !== known.digest) {
        throw new BundleError(
          'MG_BUNDLE_SERIAL_CONFLICT',
          `bundle serial ${payload.serial} was already activated with different content: two different bundles carry one serial`,
        );
      }
      if (gate.active !== null && gate.active.digest === digest) return 'unchanged';
    }
  }
  if (isBundleExpired(payload, gate.nowMs) && !gate.acceptExpired) {
    throw new BundleError('MG_BUNDLE_EXPIRED', `the bundle expired at ${payload.expires_at}`);
  }
  checkAllowList(payload, gate.allow ?? ALLOW_ALL);
  return 'activate';
}

function highest(a: SerialFloor | null, b: SerialFloor | null): SerialFloor | null {
  if (a === null) return b;
  if (b === null) return a;
  return b.serial > a.serial ? b : a;
}
