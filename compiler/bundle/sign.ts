// Bundle bytes and signature: the payload is serialized once and those exact bytes are signed.
import { createHash, type KeyObject } from 'node:crypto';
import { BUNDLE_PAYLOAD_TYPE, type DsseEnvelope, signEnvelope } from '../../schemas/bundle/dsse.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';

/** Canonical payload bytes: JSON in the key order the builder produced, no whitespace. */
export function serializePayload(payload: BundlePayload): Buffer {
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

/** Signs payload bytes into the bundle envelope (DSSE, Ed25519). */
export function signBundle(payloadBytes: Uint8Array, privateKey: KeyObject): DsseEnvelope {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the signing key must be an Ed25519 private key');
  return signEnvelope(payloadBytes, BUNDLE_PAYLOAD_TYPE, privateKey);
}

/** The envelope as written to disk. */
export function serializeEnvelope(envelope: DsseEnvelope): Buffer {
  return Buffer.from(JSON.stringify(envelope) + '\n', 'utf8');
}

/** A payload and its signed envelope, with the digest `verify` and `publish` print. */
export interface SignedBundle {
  payload: BundlePayload;
  payloadBytes: Buffer;
  /** The envelope file's bytes. */
  envelope: Buffer;
  /** sha256 (hex) of payloadBytes. */
  digest: string;
}

/** Serializes and signs a payload: the one path from payload to envelope bytes. */
export function signPayload(payload: BundlePayload, privateKey: KeyObject): SignedBundle {
  const payloadBytes = serializePayload(payload);
  const envelope = serializeEnvelope(signBundle(payloadBytes, privateKey));
  return { payload, payloadBytes, envelope, digest: createHash('sha256').update(payloadBytes).digest('hex') };
}
