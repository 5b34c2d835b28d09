// DSSE signing and bundle verification: the spec's PAE vector, a committed envelope reproduced
// byte for byte with a committed test-only key, and every way a bundle file can be wrong.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { serializeEnvelope, serializePayload, signBundle } from '../../compiler/bundle/sign.ts';
import { main } from '../../compiler/cli/main.ts';
import type { BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { BUNDLE_PAYLOAD_TYPE, type DsseEnvelope, keyIdOf, pae, signEnvelope } from '../../schemas/bundle/dsse.ts';
import { trustKeys, type VerifiedBundle, verifyBundle } from '../../schemas/bundle/verify.ts';
import { mulberry32 } from '../support/prng.ts';

const dir = fileURLToPath(new URL('../vectors/signing/', import.meta.url));
const read = (name: string): Buffer => readFileSync(dir + name);
const privateKey = createPrivateKey(read('TEST-ONLY-ed25519.private.pem'));
const publicKey = createPublicKey(read('TEST-ONLY-ed25519.public.pem'));
const otherPrivateKey = createPrivateKey(read('TEST-ONLY-other-ed25519.private.pem'));
const otherPublicKey = createPublicKey(read('TEST-ONLY-other-ed25519.public.pem'));
const payloadBytes = read('payload.json');
const trusted = trustKeys([publicKey]);

if (process.env.UPDATE_GOLDEN === '1') writeFileSync(dir + 'envelope.json', serializeEnvelope(signBundle(payloadBytes, privateKey)));
const envelopeBytes = read('envelope.json');
const envelope = JSON.parse(envelopeBytes.toString('utf8')) as DsseEnvelope;

/** Runs verifyBundle and returns the BundleError code it throws (failing the test on any other outcome). */
function refusal(bytes: Uint8Array, keys = trusted): BundleErrorCode {
  try {
    verifyBundle(bytes, keys);
  } catch (error) {
    if (error instanceof BundleError) return error.code;
    throw error;
  }
  throw new Error('the bundle verified but should have been refused');
}

const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value) + '\n', 'utf8');

describe('DSSE pre-authentication encoding', () => {
  it('matches the example in the DSSE protocol spec', () => {
    // https://github.com/secure-systems-lab/dsse/blob/master/protocol.md#signature-definition
    const bytes = pae('http://example.com/HelloWorld', Buffer.from('hello world', 'utf8'));
    expect(bytes.toString('utf8')).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('counts lengths in bytes, not characters', () => {
    const bytes = pae('t/é', Buffer.from('ü', 'utf8'));
    expect(bytes.toString('utf8')).toBe('DSSEv1 4 t/é 2 ü');
  });
});

describe('when the committed test key signs the committed payload', () => {
  it('reproduces the committed envelope byte for byte', () => {
    expect(signBundle(payloadBytes, privateKey).payloadType).toBe(BUNDLE_PAYLOAD_TYPE);
    expect(serializeEnvelope(signBundle(payloadBytes, privateKey)).equals(envelopeBytes)).toBe(true);
  });

  it('names the key by the sha256 of its SPKI DER', () => {
    const expected = createHash('sha256')
      .update(publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex');
    expect(keyIdOf(publicKey)).toBe(expected);
    expect(envelope.signatures).toEqual([{ keyid: expected, sig: expect.any(String) }]);
  });

  it('keeps the payload bytes exactly (serializePayload round-trips them)', () => {
    expect(Buffer.from(envelope.payload, 'base64').equals(payloadBytes)).toBe(true);
    expect(serializePayload(JSON.parse(payloadBytes.toString('utf8'))).equals(payloadBytes)).toBe(true);
  });

  it('verifies, returning the parsed payload, its digest and the key that verified', () => {
    const verified = verifyBundle(envelopeBytes, trusted);
    expect(verified.payload).toEqual(JSON.parse(payloadBytes.toString('utf8')));
    expect(verified.digest).toBe(createHash('sha256').update(payloadBytes).digest('hex'));
    expect(verified.keyid).toBe(keyIdOf(publicKey));
  });

  it('refuses a signing key that is not Ed25519', () => {
    const { privateKey: ecKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => signBundle(payloadBytes, ecKey)).toThrow(/Ed25519/);
  });
});

describe('when the runtime trusts a different key', () => {
  it('refuses the bundle with MG_BUNDLE_BAD_SIGNATURE', () => {
    expect(refusal(envelopeBytes, trustKeys([otherPublicKey]))).toBe('MG_BUNDLE_BAD_SIGNATURE');
  });

  it('refuses it with MG_BUNDLE_BAD_SIGNATURE when it trusts no key at all', () => {
    expect(refusal(envelopeBytes, [])).toBe('MG_BUNDLE_BAD_SIGNATURE');
  });

  it('verifies it when the signing key is one of several trusted keys (rotation)', () => {
    expect(verifyBundle(envelopeBytes, trustKeys([otherPublicKey, publicKey])).keyid).toBe(keyIdOf(publicKey));
  });
});

describe('when one byte of the envelope file changes', () => {
  const text = envelopeBytes.toString('latin1');
  const original = verifyBundle(envelopeBytes, trusted);
  // Bytes whose change may legitimately leave the bundle valid: the keyid is only a hint (every
  // trusted key is tried), the final newline is JSON whitespace, and the last base64 character
  // before "==" carries 4 bits that decoding drops. Nothing else may change and still verify.
  const keyidStart = text.indexOf('"keyid":"') + '"keyid":"'.length;
  const tolerated = new Set<number>([envelopeBytes.length - 1]);
  for (let i = keyidStart; i < keyidStart + 64; i++) tolerated.add(i);
  for (const value of [envelope.payload, envelope.signatures[0]!.sig]) {
    const start = text.indexOf(`"${value}"`) + 1;
    if (value.endsWith('==')) tolerated.add(start + value.length - 3);
  }
  const payloadStart = text.indexOf(`"${envelope.payload}"`) + 1;

  const random = mulberry32(0x5eed);
  const flips: { position: number; mask: number }[] = [];
  for (let position = 0; position < envelopeBytes.length; position++) {
    for (let k = 0; k < 2; k++) flips.push({ position, mask: 1 + random.int(255) });
  }

  it(`refuses every change outside the hint and padding bytes (${flips.length} flips over all ${envelopeBytes.length} positions)`, () => {
    const codes = new Map<string, number>();
    const acceptedOutsideTolerance: number[] = [];
    let refused = 0;
    for (const { position, mask } of flips) {
      const mutated = Buffer.from(envelopeBytes);
      mutated[position] = (mutated[position] as number) ^ mask;
      let verified: VerifiedBundle | null = null;
      try {
        verified = verifyBundle(mutated, trusted);
      } catch (error) {
        if (!(error instanceof BundleError)) throw error;
        refused++;
        codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
        if (position >= payloadStart && position < payloadStart + envelope.payload.length && !tolerated.has(position)) {
          expect(['MG_BUNDLE_BAD_SIGNATURE', 'MG_BUNDLE_MALFORMED']).toContain(error.code);
        }
      }
      if (verified !== null) {
        // Whatever verified must be the very payload that was signed.
        expect(verified.digest).toBe(original.digest);
        if (!tolerated.has(position)) acceptedOutsideTolerance.push(position);
      }
    }
    expect(acceptedOutsideTolerance).toEqual([]);
    expect(refused).toBeGreaterThanOrEqual(flips.length - 2 * tolerated.size);
    expect([...codes.keys()].sort()).toEqual(expect.arrayContaining(['MG_BUNDLE_BAD_SIGNATURE', 'MG_BUNDLE_MALFORMED', 'MG_BUNDLE_PAYLOAD_TYPE']));
  });
});

describe('when the payload is tampered with and re-encoded', () => {
  it('refuses a payload with one byte changed with MG_BUNDLE_BAD_SIGNATURE', () => {
    const tampered = Buffer.from(payloadBytes);
    const at = tampered.indexOf('"audience":"') + '"audience":"'.length;
    tampered[at] = 'x'.charCodeAt(0);
    expect(refusal(encode({ ...envelope, payload: tampered.toString('base64') }))).toBe('MG_BUNDLE_BAD_SIGNATURE');
  });

  it('refuses a payload that is not base64 with MG_BUNDLE_MALFORMED', () => {
    expect(refusal(encode({ ...envelope, payload: envelope.payload.slice(0, -1) }))).toBe('MG_BUNDLE_MALFORMED');
  });
});

describe('when the payloadType changes', () => {
  it('refuses the original signature under another type with MG_BUNDLE_PAYLOAD_TYPE', () => {
    expect(refusal(encode({ ...envelope, payloadType: 'application/json' }))).toBe('MG_BUNDLE_PAYLOAD_TYPE');
  });

  it('refuses a validly signed envelope of another type with MG_BUNDLE_PAYLOAD_TYPE', () => {
    const other = signEnvelope(payloadBytes, 'application/vnd.modelgate.bundle.v2+json', privateKey);
    expect(refusal(encode(other))).toBe('MG_BUNDLE_PAYLOAD_TYPE');
  });
});

describe('when the signatures are missing or repeated', () => {
  it('refuses an empty signature list with MG_BUNDLE_NO_SIGNATURE', () => {
    expect(refusal(encode({ ...envelope, signatures: [] }))).toBe('MG_BUNDLE_NO_SIGNATURE');
  });

  it('refuses an envelope without a signatures field with MG_BUNDLE_NO_SIGNATURE', () => {
    expect(refusal(encode({ payloadType: envelope.payloadType, payload: envelope.payload }))).toBe('MG_BUNDLE_NO_SIGNATURE');
  });

  it('refuses the same signature twice with MG_BUNDLE_DUPLICATE_SIGNATURE', () => {
    const sig = envelope.signatures[0]!;
    expect(refusal(encode({ ...envelope, signatures: [sig, sig] }))).toBe('MG_BUNDLE_DUPLICATE_SIGNATURE');
  });

  it('refuses two signatures under one keyid with MG_BUNDLE_DUPLICATE_SIGNATURE', () => {
    const sig = envelope.signatures[0]!;
    const forged = { keyid: sig.keyid, sig: Buffer.alloc(64, 7).toString('base64') };
    expect(refusal(encode({ ...envelope, signatures: [forged, sig] }))).toBe('MG_BUNDLE_DUPLICATE_SIGNATURE');
  });

  it('refuses a signature that is not base64 with MG_BUNDLE_BAD_SIGNATURE', () => {
    expect(refusal(encode({ ...envelope, signatures: [{ keyid: envelope.signatures[0]!.keyid, sig: '!!!!' }] }))).toBe('MG_BUNDLE_BAD_SIGNATURE');
  });
});

describe('when a signature comes from a key the runtime does not know', () => {
  const unknown = signEnvelope(payloadBytes, BUNDLE_PAYLOAD_TYPE, otherPrivateKey).signatures[0]!;

  it('verifies with the trusted signature next to it', () => {
    const both = encode({ ...envelope, signatures: [unknown, envelope.signatures[0]] });
    expect(verifyBundle(both, trusted).keyid).toBe(keyIdOf(publicKey));
  });

  it('verifies a trusted signature whose keyid hint was renamed', () => {
    const renamed = encode({ ...envelope, signatures: [{ keyid: 'rotated-key-2026', sig: envelope.signatures[0]!.sig }] });
    expect(verifyBundle(renamed, trusted).keyid).toBe(keyIdOf(publicKey));
  });

  it('refuses it alone with MG_BUNDLE_BAD_SIGNATURE', () => {
    expect(refusal(encode({ ...envelope, signatures: [unknown] }))).toBe('MG_BUNDLE_BAD_SIGNATURE');
  });
});

describe('when the file is truncated', () => {
  it('refuses every strict prefix that cuts into the JSON with MG_BUNDLE_MALFORMED', () => {
    const lengths = [
      0,
      1,
      2,
      10,
      100,
      ...Array.from({ length: 50 }, (_, i) => Math.floor(((i + 1) * (envelopeBytes.length - 1)) / 51)),
      envelopeBytes.length - 2,
    ];
    for (const length of lengths) expect(refusal(envelopeBytes.subarray(0, length)), `prefix of ${length} bytes`).toBe('MG_BUNDLE_MALFORMED');
  });
});

describe('when a payload verifies but breaks the bundle schema', () => {
  const signed = (payload: Uint8Array, key: KeyObject = privateKey): Buffer => encode(signBundle(payload, key));

  it('refuses a payload of the wrong format version with MG_BUNDLE_SCHEMA', () => {
    const payload = { ...JSON.parse(payloadBytes.toString('utf8')), format: 2 };
    expect(refusal(signed(serializePayload(payload)))).toBe('MG_BUNDLE_SCHEMA');
  });

  it('refuses a payload with a field the schema does not know with MG_BUNDLE_SCHEMA', () => {
    const payload = { ...JSON.parse(payloadBytes.toString('utf8')), allow_all: true };
    expect(refusal(signed(serializePayload(payload)))).toBe('MG_BUNDLE_SCHEMA');
  });

  it('refuses a signed payload that is not JSON with MG_BUNDLE_SCHEMA', () => {
    expect(refusal(signed(Buffer.from('not json', 'utf8')))).toBe('MG_BUNDLE_SCHEMA');
  });
});

describe('when the bundle is for another audience', () => {
  // The audience is an activation check, not a signature check: verifyBundle hands it back and
  // `modelgate verify --audience` (like the runtime) refuses a bundle compiled for another fleet.
  const verifyCli = async (audience: string): Promise<{ exit: number; report: { ok: boolean; code?: string; audience?: string } }> => {
    const out: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const exit = await main([
        'verify',
        dir + 'envelope.json',
        '--public-key',
        dir + 'TEST-ONLY-ed25519.public.pem',
        '--audience',
        audience,
        '--allow-expired',
        '--format',
        'json',
      ]);
      return { exit, report: JSON.parse(out.join('')) };
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  };

  it('verifies the signature and reports the audience it was compiled for', () => {
    expect(verifyBundle(envelopeBytes, trusted).payload.audience).toBe('dev-gateway');
  });

  it('is refused by `modelgate verify --audience` with MG_BUNDLE_AUDIENCE', async () => {
    expect(await verifyCli('prod-gateway')).toEqual({ exit: 1, report: expect.objectContaining({ ok: false, code: 'MG_BUNDLE_AUDIENCE' }) });
  });

  it('is accepted by `modelgate verify --audience` for its own audience', async () => {
    expect(await verifyCli('dev-gateway')).toEqual({ exit: 0, report: expect.objectContaining({ ok: true, audience: 'dev-gateway' }) });
  });
});
