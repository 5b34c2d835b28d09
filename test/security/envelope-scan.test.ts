// The envelope read of schemas/bundle/envelope-scan.ts, in process, against JSON.parse of the whole
// envelope. verifyBundle uses the scan when it returns an envelope and parses the envelope whole
// (with every refusal) otherwise; so the scan must never return what JSON.parse would not: the same
// payloadType and signatures, the payload's exact bytes after the PAE header, and only for an
// envelope whose payload is valid, canonical base64. Checked on hand-written shapes and on tens of
// thousands of random edits of valid envelopes.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BUNDLE_PAYLOAD_TYPE, pae, signEnvelope } from '../../schemas/bundle/dsse.ts';
import { scanEnvelope } from '../../schemas/bundle/envelope-scan.ts';
import { trustKeys, verifyBundle } from '../../schemas/bundle/verify.ts';
import { mulberry32 } from '../support/prng.ts';

const signer = generateKeyPairSync('ed25519');

/** What JSON.parse of the whole envelope says the scan must return, or null when the scan must not return anything. */
function expected(bytes: Buffer): { rest: unknown; signed: Buffer; offset: number } | null {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { payload, payloadType } = value as Record<string, unknown>;
  if (typeof payload !== 'string' || typeof payloadType !== 'string') return null;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload) || payload.length % 4 !== 0) return null;
  const decoded = Buffer.from(payload, 'base64');
  if (decoded.toString('base64') !== payload) return null;
  const signed = pae(payloadType, decoded);
  return { rest: { ...value, payload: '' }, signed, offset: signed.length - decoded.length };
}

/** Checks one envelope: whatever the scan returns agrees with JSON.parse; returns whether it read it. */
function agrees(bytes: Buffer): boolean {
  const scanned = scanEnvelope(bytes);
  if (scanned === null) return false;
  const want = expected(bytes);
  if (want === null) throw new Error(`the scan read an envelope that JSON.parse refuses: ${bytes.toString('latin1').slice(0, 200)}`);
  expect(scanned.rest).toEqual(want.rest);
  expect(scanned.payloadType).toBe((want.rest as { payloadType: string }).payloadType);
  expect(scanned.signed.equals(want.signed)).toBe(true);
  expect(scanned.payloadOffset).toBe(want.offset);
  return true;
}

const envelopeText = (payload: Uint8Array): string => JSON.stringify(signEnvelope(payload, BUNDLE_PAYLOAD_TYPE, signer.privateKey));

describe('scanEnvelope', () => {
  it('reads a signed envelope of every payload tail length (0, 1 and 2 bytes of padding) as JSON.parse does', () => {
    for (let length = 0; length < 40; length++) {
      const payload = Buffer.from(JSON.stringify({ n: 'x'.repeat(length) }));
      expect(agrees(Buffer.from(envelopeText(payload)))).toBe(true);
    }
  });

  it('reads other key orders, white space, and "payload" keys nested below the top level', () => {
    const p = Buffer.from('{"serial":1}').toString('base64');
    const shapes = [
      `{"signatures":[{"keyid":"k","sig":"c2ln","payload":"bm90IHRoaXM="}],"payload":"${p}","payloadType":"t"}`,
      ` {\n\t"payloadType" : "t" ,\r\n "payload" :\t"${p}" , "signatures" : [ ] }\n`,
      `{"payloadType":"t\\u00e9","payload":"${p}","x":{"payload":"AAAA"},"signatures":[]}`,
      `{"payloadType":"täyp","payload":"${p}","signatures":[{"keyid":"\\"payload\\":","sig":""}]}`,
    ];
    for (const shape of shapes) expect(agrees(Buffer.from(shape)), shape).toBe(true);
  });

  it('leaves to JSON.parse an escaped or repeated top-level key, a payload that is not canonical base64, and invalid JSON', () => {
    const p = Buffer.from('{"serial":1}').toString('base64');
    const shapes = [
      `{"payloadType":"t","p\\u0061yload":"AAAA","payload":"${p}","signatures":[]}`,
      `{"payloadType":"t","payload":"${p}","payl\\u006fad":"AAAA","signatures":[]}`,
      `{"payloadType":"t","payload":"${p}","payload":"AAAA","signatures":[]}`,
      `{"payloadType":"t","payload":"QR==","signatures":[]}`,
      `{"payloadType":"t","payload":"QQ=A","signatures":[]}`,
      `{"payloadType":"t","payload":"QUJD\\u0044","signatures":[]}`,
      `{"payloadType":"t","payload":"QUJD-_==","signatures":[]}`,
      `{"payloadType":"t","payload":"QUJD_0JD","signatures":[]}`,
      `{"payloadType":"t","payload":"QUJD QUJ","signatures":[]}`,
      `{"payloadType":"t","payload":"QUJ.QUJD","signatures":[]}`,
      `{"payloadType":"t","payload":"QU=DQUJD","signatures":[]}`,
      `{"payloadType":"t","payload":"QUJDR","signatures":[]}`,
      `{"payloadType":"t","payload":7,"signatures":[]}`,
      `{"payloadType":1,"payload":"${p}","signatures":[]}`,
      `{"payloadType":"t","payload":"${p}","signatures":[]`,
      `{"payloadType":"t","payload":"${p}","signatures":[]}}`,
      `["payload","${p}"]`,
      `{"payloadType":"t","payload":"${p}"x,"signatures":[]}`,
    ];
    for (const shape of shapes) {
      expect(scanEnvelope(Buffer.from(shape)), shape).toBeNull();
    }
  });

  it('agrees with JSON.parse on random edits of valid envelopes', () => {
    const random = mulberry32(1515);
    // Foreign bytes a lenient base64 decoder skips or maps (URL-safe - and _, whitespace, . ! NUL) among them.
    const pieces = [
      '"',
      '\\',
      '=',
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      ' ',
      'A',
      '/',
      '-',
      '_',
      '\t',
      '.',
      '!',
      '\u0000',
      '\u00e9',
      'payload',
      '"payload":',
      '\\u0041',
      '\n',
    ];
    let read = 0;
    let left = 0;
    for (let round = 0; round < 12_000; round++) {
      const payload = Buffer.from(JSON.stringify({ serial: round, pad: 'y'.repeat(random.int(5)) }));
      const text = envelopeText(payload);
      const edits = 1 + random.int(2);
      let edited = text;
      for (let e = 0; e < edits; e++) {
        const at = random.int(edited.length + 1);
        const cut = random.int(3);
        edited = edited.slice(0, at) + (random.chance(0.8) ? random.pick(pieces) : '') + edited.slice(at + cut);
      }
      if (agrees(Buffer.from(edited))) read++;
      else left++;
    }
    // Both sides are exercised: most edits break the envelope, many land in the payload's text.
    expect(read).toBeGreaterThan(500);
    expect(left).toBeGreaterThan(500);
  });

  it('gives verifyBundle the same answer as the whole parse for a real signed bundle', () => {
    const payload = Buffer.from(JSON.stringify({ hello: 'wörld' }));
    const bytes = Buffer.from(envelopeText(payload));
    expect(scanEnvelope(bytes)).not.toBeNull();
    // The payload is not a bundle, so the schema refuses it: after the signature verified over the scanned bytes.
    expect(() => verifyBundle(bytes, trustKeys([signer.publicKey]))).toThrow(/bundle schema/);
    const tampered = Buffer.from(envelopeText(payload).replace(/"payload":"(.)/, (_, c: string) => `"payload":"${c === 'A' ? 'B' : 'A'}`));
    expect(scanEnvelope(tampered)).not.toBeNull();
    expect(() => verifyBundle(tampered, trustKeys([signer.publicKey]))).toThrow(/no signature verifies/);
  });
});
