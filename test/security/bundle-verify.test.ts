// Bundle envelopes, in process: DSSE encoding and signing (schemas/bundle/dsse.ts), verification of
// the envelope bytes against trusted keys (schemas/bundle/verify.ts), and the expiry rule
// (schemas/bundle/expiry.ts). One policy tree is compiled once; every envelope is built in memory.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, type BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import { BUNDLE_PAYLOAD_TYPE, type DsseEnvelope, keyIdOf, pae, signEnvelope, verifyPae } from '../../schemas/bundle/dsse.ts';
import { isBundleExpired } from '../../schemas/bundle/expiry.ts';
import { decodeUnverified, trustKeys, verifyBundle } from '../../schemas/bundle/verify.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { compilePayload, mintTestKeys, writePolicyTree } from '../support/policies.ts';

const signer = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
let dir: string;
let payload: BundlePayload;
let payloadBytes: Buffer;

const bytesOf = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
const envelope = (bytes: Uint8Array = payloadBytes, key: KeyObject = signer.privateKey, type = BUNDLE_PAYLOAD_TYPE): DsseEnvelope =>
  signEnvelope(bytes, type, key);
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function refusal(run: () => unknown): { code: BundleErrorCode; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BundleError);
    return { code: (error as BundleError).code, message: (error as BundleError).message };
  }
  throw new Error('expected a BundleError, nothing was thrown');
}
const codeOf = (value: unknown, trusted = trustKeys([signer.publicKey])): BundleErrorCode => refusal(() => verifyBundle(bytesOf(value), trusted)).code;

// One outer suite: a fixture hook that fails (as it may under a mutant) must fail the tests,
// and Stryker's vitest runner counts only hook failures inside a describe (docs/testing.md).
describe('bundle envelopes', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-verify-'));
    await writePolicyTree(join(dir, 'p'), mintTestKeys(), { upstreamUrl: 'http://127.0.0.1:9', azureKeyFile: join(dir, 'none'), openaiKeyVar: 'MG_NONE' });
    payload = await compilePayload(join(dir, 'p'), 7);
    payloadBytes = Buffer.from(JSON.stringify(payload), 'utf8');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('DSSE pre-authentication encoding', () => {
    it('matches the DSSE protocol test vector, lengths in bytes', () => {
      expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString('utf8')).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
      expect(pae('t\u00e9', Buffer.from('\u00e9')).toString('utf8')).toBe('DSSEv1 3 t\u00e9 2 \u00e9');
    });

    it('names a key by the hex sha256 of its SPKI DER', () => {
      expect(keyIdOf(signer.publicKey)).toBe(sha256(signer.publicKey.export({ type: 'spki', format: 'der' })));
      expect(keyIdOf(signer.publicKey)).not.toBe(keyIdOf(other.publicKey));
    });

    it('signs the payload bytes under the given type, with the signer keyid', () => {
      const env = signEnvelope(Buffer.from('hello'), 'text/x', signer.privateKey);
      expect(env).toMatchObject({ payloadType: 'text/x', payload: 'aGVsbG8=', signatures: [{ keyid: keyIdOf(signer.publicKey) }] });
      const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
      expect(verifyPae('text/x', Buffer.from('hello'), sig, signer.publicKey)).toBe(true);
    });

    it('does not verify under another type, other bytes or another key, and never throws', () => {
      const sig = Buffer.from(envelope(Buffer.from('hello'), signer.privateKey, 'text/x').signatures[0]!.sig, 'base64');
      expect(verifyPae('text/y', Buffer.from('hello'), sig, signer.publicKey)).toBe(false);
      expect(verifyPae('text/x', Buffer.from('hellO'), sig, signer.publicKey)).toBe(false);
      expect(verifyPae('text/x', Buffer.from('hello'), sig, other.publicKey)).toBe(false);
      expect(verifyPae('text/x', Buffer.from('hello'), sig, generateKeyPairSync('x25519').publicKey)).toBe(false);
    });
  });

  describe('when the envelope is signed by a trusted key', () => {
    it('returns the payload, the sha256 of the signed bytes, and the keyid that verified', () => {
      const verified = verifyBundle(bytesOf(envelope()), trustKeys([other.publicKey, signer.publicKey]));
      expect(verified.payload).toEqual(payload);
      expect(verified.digest).toBe(sha256(payloadBytes));
      expect(verified.keyid).toBe(keyIdOf(signer.publicKey));
    });

    it('tries a signature whose keyid is unknown against every trusted key', () => {
      const env = envelope();
      env.signatures[0]!.keyid = 'renamed';
      expect(verifyBundle(bytesOf(env), trustKeys([other.publicKey, signer.publicKey])).keyid).toBe(keyIdOf(signer.publicKey));
    });

    it('accepts when any one of several signatures verifies', () => {
      const env = envelope();
      const untrusted = envelope(payloadBytes, other.privateKey).signatures[0]!;
      env.signatures.unshift(untrusted);
      expect(verifyBundle(bytesOf(env), trustKeys([signer.publicKey])).keyid).toBe(keyIdOf(signer.publicKey));
    });
  });

  describe('when the signature does not hold', () => {
    it('refuses MG_BUNDLE_BAD_SIGNATURE for a key that is not trusted', () => {
      expect(refusal(() => verifyBundle(bytesOf(envelope()), trustKeys([other.publicKey])))).toEqual({
        code: 'MG_BUNDLE_BAD_SIGNATURE',
        message: 'no signature verifies with a trusted public key',
      });
      expect(codeOf(envelope(), [])).toBe('MG_BUNDLE_BAD_SIGNATURE');
    });

    it('refuses MG_BUNDLE_BAD_SIGNATURE for a payload changed after signing', () => {
      const env = envelope();
      env.payload = Buffer.from(JSON.stringify({ ...payload, serial: 8 })).toString('base64');
      expect(codeOf(env)).toBe('MG_BUNDLE_BAD_SIGNATURE');
    });

    it('refuses MG_BUNDLE_BAD_SIGNATURE for a signature that is not canonical base64', () => {
      for (const [sig, why] of [
        ['not base64!', 'valid'],
        ['abc', 'valid'],
        ['QQ=A', 'valid'],
        ['QR==', 'canonical'],
      ] as const) {
        const env = envelope();
        env.signatures[0]!.sig = sig;
        expect(refusal(() => verifyBundle(bytesOf(env), trustKeys([signer.publicKey])))).toEqual({
          code: 'MG_BUNDLE_BAD_SIGNATURE',
          message: `the signature is not ${why} base64`,
        });
      }
    });

    it('refuses MG_BUNDLE_PAYLOAD_TYPE for another payload type, even validly signed', () => {
      expect(refusal(() => verifyBundle(bytesOf(envelope(payloadBytes, signer.privateKey, 'application/json')), trustKeys([signer.publicKey])))).toEqual({
        code: 'MG_BUNDLE_PAYLOAD_TYPE',
        message: `payloadType must be ${BUNDLE_PAYLOAD_TYPE}`,
      });
    });
  });

  describe('when the envelope carries no signature or the same one twice', () => {
    it('refuses MG_BUNDLE_NO_SIGNATURE for an empty or missing list', () => {
      expect(codeOf({ ...envelope(), signatures: [] })).toBe('MG_BUNDLE_NO_SIGNATURE');
      const { signatures: _, ...unsigned } = envelope();
      expect(codeOf(unsigned)).toBe('MG_BUNDLE_NO_SIGNATURE');
    });

    it('refuses MG_BUNDLE_DUPLICATE_SIGNATURE for one signature twice, or one keyid twice', () => {
      const env = envelope();
      const [sig] = env.signatures;
      expect(codeOf({ ...env, signatures: [sig, sig] })).toBe('MG_BUNDLE_DUPLICATE_SIGNATURE');
      const forged = { keyid: sig!.keyid, sig: envelope(payloadBytes, other.privateKey).signatures[0]!.sig };
      expect(codeOf({ ...env, signatures: [forged, sig] })).toBe('MG_BUNDLE_DUPLICATE_SIGNATURE');
    });
  });

  describe('when the envelope is malformed', () => {
    it.each([
      ['is not JSON', '{"payloadType":'],
      ['is JSON null', 'null'],
      ['is a JSON string', '"envelope"'],
      ['has no payloadType', { payload: 'e30=', signatures: [] }],
      ['has a non-string payload', { payloadType: BUNDLE_PAYLOAD_TYPE, payload: 5, signatures: [] }],
      ['has signatures that are not a list', { payloadType: BUNDLE_PAYLOAD_TYPE, payload: 'e30=', signatures: { keyid: 'k', sig: 'c2ln' } }],
      ['has a null signature', { payloadType: BUNDLE_PAYLOAD_TYPE, payload: 'e30=', signatures: [null] }],
      ['has a signature without sig', { payloadType: BUNDLE_PAYLOAD_TYPE, payload: 'e30=', signatures: [{ keyid: 'k' }] }],
      ['has a signature without keyid', { payloadType: BUNDLE_PAYLOAD_TYPE, payload: 'e30=', signatures: [{ sig: 'c2ln' }] }],
    ])('refuses MG_BUNDLE_MALFORMED when it %s', (_name, value) => {
      expect(codeOf(value)).toBe('MG_BUNDLE_MALFORMED');
    });

    it('refuses MG_BUNDLE_MALFORMED for a payload that is not canonical base64, before any signature check', () => {
      for (const [text, why] of [
        ['e30', 'valid'],
        ['e3!=', 'valid'],
        ['e30==', 'valid'],
        ['e31=', 'canonical'],
      ] as const) {
        expect(refusal(() => verifyBundle(bytesOf({ ...envelope(), payload: text }), trustKeys([signer.publicKey])))).toEqual({
          code: 'MG_BUNDLE_MALFORMED',
          message: `the payload is not ${why} base64`,
        });
      }
    });
  });

  describe('when a refusal is reported', () => {
    // What an operator reads in the log and in `modelgate verify`: the message says which check failed.
    const messageOf = (value: unknown): { code: BundleErrorCode; message: string } =>
      refusal(() => verifyBundle(bytesOf(value), trustKeys([signer.publicKey])));

    it('names the check that failed', () => {
      const env = envelope();
      const { signatures: _, ...unsigned } = env;
      for (const [value, code, message] of [
        ['{"payloadType":', 'MG_BUNDLE_MALFORMED', 'the bundle is not a JSON DSSE envelope (truncated or corrupt?)'],
        ['null', 'MG_BUNDLE_MALFORMED', 'the bundle is not a DSSE envelope'],
        ['"envelope"', 'MG_BUNDLE_MALFORMED', 'the bundle is not a DSSE envelope'],
        [{ payload: 'e30=', signatures: [] }, 'MG_BUNDLE_MALFORMED', 'the envelope needs string payloadType and payload'],
        [{ ...env, signatures: [{ keyid: 'k' }] }, 'MG_BUNDLE_MALFORMED', 'signatures must be a list of {keyid, sig}'],
        [unsigned, 'MG_BUNDLE_NO_SIGNATURE', 'the envelope has no signatures'],
        [{ ...env, signatures: [] }, 'MG_BUNDLE_NO_SIGNATURE', 'the envelope has no signature'],
        [
          { ...env, signatures: [env.signatures[0], env.signatures[0]] },
          'MG_BUNDLE_DUPLICATE_SIGNATURE',
          'the envelope carries the same signature or keyid twice',
        ],
        [{ ...env, payloadType: 'text/x' }, 'MG_BUNDLE_PAYLOAD_TYPE', `payloadType must be ${BUNDLE_PAYLOAD_TYPE}`],
      ] as const) {
        expect(messageOf(value)).toEqual({ code, message });
      }
    });

    it('names the payload when a tool decodes an envelope that is not base64', () => {
      expect(refusal(() => decodeUnverified(bytesOf({ ...envelope(), payload: 'e30' })))).toEqual({
        code: 'MG_BUNDLE_MALFORMED',
        message: 'the payload is not valid base64',
      });
    });
  });

  describe('when the signed payload is not a bundle', () => {
    it('refuses MG_BUNDLE_SCHEMA for signed bytes that are not JSON', () => {
      expect(refusal(() => verifyBundle(bytesOf(envelope(Buffer.from('not json'))), trustKeys([signer.publicKey])))).toEqual({
        code: 'MG_BUNDLE_SCHEMA',
        message: 'the signed payload is not JSON',
      });
    });

    it('refuses MG_BUNDLE_SCHEMA, naming the problem, for JSON that does not match the schema', () => {
      const { serial: _, ...noSerial } = payload;
      const { code, message } = refusal(() => verifyBundle(bytesOf(envelope(bytesOf(noSerial))), trustKeys([signer.publicKey])));
      expect(code).toBe('MG_BUNDLE_SCHEMA');
      expect(message).toMatch(/^the signed payload does not match the bundle schema: .*serial/);
    });
  });

  describe('when a tool reads an envelope without verifying it', () => {
    it('decodes the type, the payload bytes and the number of signatures', () => {
      const env = envelope();
      env.signatures.push({ keyid: 'x', sig: 'bad' });
      expect(decodeUnverified(bytesOf(env))).toEqual({ payloadType: BUNDLE_PAYLOAD_TYPE, payloadBytes, signatures: 2 });
      expect(refusal(() => decodeUnverified(bytesOf({ ...env, payload: 'e30' }))).code).toBe('MG_BUNDLE_MALFORMED');
    });
  });

  describe('when the clock passes expires_at', () => {
    it('is valid before expires_at and expired at and after it', () => {
      const at = Date.parse('2026-12-01T00:00:00Z');
      expect(isBundleExpired({ expires_at: '2026-12-01T00:00:00Z' }, at - 1)).toBe(false);
      expect(isBundleExpired({ expires_at: '2026-12-01T00:00:00Z' }, at)).toBe(true);
      expect(isBundleExpired({ expires_at: '2026-12-01T00:00:00Z' }, at + 1)).toBe(true);
    });
  });
});
