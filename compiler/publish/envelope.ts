// Reading serials and digests out of envelopes: the bundle about to be published (strictly) and
// whatever a destination holds now (only as far as needed to order the two).
import { createHash } from 'node:crypto';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { BUNDLE_PAYLOAD_TYPE } from '../../schemas/bundle/dsse.ts';
import { createdInFuture, isBundleExpired, MAX_CLOCK_SKEW_MS } from '../../schemas/bundle/expiry.ts';
import { bundleSchemaProblem } from '../../schemas/bundle/validate-payload.ts';
import { decodeUnverified, type TrustedKey, verifyBundle } from '../../schemas/bundle/verify.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { PublishError, type Published } from './errors.ts';

export interface Publishable extends Published {
  bytes: Buffer;
  audience: string;
  revision: string;
  expiresAt: string;
  /** The trusted key whose signature verified; null when no --public-key was given. */
  keyid: string | null;
}

/**
 * The bundle to publish: verified in full when trusted keys are given, otherwise parsed and
 * schema-checked (an envelope that does not parse is never published). Expired bundles, and
 * bundles created in the future (beyond clock skew), are refused. Throws BundleError.
 */
export function readPublishable(bytes: Buffer, trusted: readonly TrustedKey[] | null, nowMs: number): Publishable {
  let payload: BundlePayload;
  let digest: string;
  let keyid: string | null = null;
  if (trusted !== null) {
    ({ payload, digest, keyid } = verifyBundle(bytes, trusted));
  } else {
    const decoded = decodeUnverified(bytes);
    if (decoded.payloadType !== BUNDLE_PAYLOAD_TYPE) throw new BundleError('MG_BUNDLE_PAYLOAD_TYPE', `payloadType must be ${BUNDLE_PAYLOAD_TYPE}`);
    if (decoded.signatures === 0) throw new BundleError('MG_BUNDLE_NO_SIGNATURE', 'the envelope has no signature');
    const parsed = parseJson(decoded.payloadBytes);
    if (parsed === undefined) throw new BundleError('MG_BUNDLE_SCHEMA', 'the signed payload is not JSON');
    const problem = bundleSchemaProblem(parsed);
    if (problem !== null) throw new BundleError('MG_BUNDLE_SCHEMA', `the signed payload does not match the bundle schema: ${problem}`);
    payload = parsed as BundlePayload;
    digest = sha256(decoded.payloadBytes);
  }
  if (createdInFuture(payload, nowMs)) {
    throw new BundleError(
      'MG_BUNDLE_CREATED_IN_FUTURE',
      `the bundle was created at ${payload.created_at}, more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes in the future; published, its serial would become every gateway's floor and refuse every correctly dated bundle after it`,
    );
  }
  if (isBundleExpired(payload, nowMs))
    throw new BundleError('MG_BUNDLE_EXPIRED', `the bundle expired at ${payload.expires_at}; runtimes would refuse it (compile a fresh one)`);
  return { bytes, serial: payload.serial, digest, audience: payload.audience, revision: payload.revision, expiresAt: payload.expires_at, keyid };
}

/**
 * The serial and digest of what a destination holds. Not verified: a forged higher serial can
 * only make the publisher refuse, never make a runtime accept anything.
 */
export function readPublished(bytes: Uint8Array, where: string): Published {
  try {
    const { payloadBytes } = decodeUnverified(bytes);
    const serial = (parseJson(payloadBytes) as { serial?: unknown } | undefined)?.serial;
    if (typeof serial === 'number' && Number.isSafeInteger(serial) && serial >= 0) return { serial, digest: sha256(payloadBytes) };
  } catch (error) {
    if (!(error instanceof BundleError)) throw error;
  }
  throw new PublishError(
    'MG_PUBLISH_CURRENT_UNREADABLE',
    `${where} is not a bundle envelope with a serial; cannot tell whether this bundle is newer (inspect it, and remove it if it is debris)`,
  );
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
