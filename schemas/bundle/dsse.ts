// DSSE envelopes signed with Ed25519 through node:crypto.
// Spec: https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

export const BUNDLE_PAYLOAD_TYPE = 'application/vnd.modelgate.bundle.v1+json';

export interface DsseSignature {
  keyid: string;
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: DsseSignature[];
}

/** DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  return Buffer.concat([paeHeader(payloadType, payload.length), payload]);
}

/** The PAE up to the body: a verifier can decode the body straight after it, into one buffer. */
export function paeHeader(payloadType: string, bodyLength: number): Buffer {
  // Buffer.from(string) encodes UTF-8: LEN(type) counts the type's UTF-8 bytes.
  const type = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${bodyLength} `)]);
}

/** keyid = hex sha256 of the public key's SPKI DER; a hint for finding the key, never a source of trust. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** Signs payload bytes into a DSSE envelope with an Ed25519 private key. */
export function signEnvelope(payload: Uint8Array, payloadType: string, privateKey: KeyObject): DsseEnvelope {
  const publicKey = createPublicKey(privateKey);
  const sig = sign(null, pae(payloadType, payload), privateKey);
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid: keyIdOf(publicKey), sig: sig.toString('base64') }],
  };
}

/** True when sig is a valid Ed25519 signature of PAE(payloadType, payload) under publicKey. */
export function verifyPae(payloadType: string, payload: Uint8Array, sig: Uint8Array, publicKey: KeyObject): boolean {
  return verifyEncoded(pae(payloadType, payload), sig, publicKey);
}

/** True when sig is a valid Ed25519 signature of the given PAE bytes (see paeHeader). */
export function verifyEncoded(paeBytes: Uint8Array, sig: Uint8Array, publicKey: KeyObject): boolean {
  try {
    return verify(null, paeBytes, publicKey, sig);
  } catch {
    return false;
  }
}
