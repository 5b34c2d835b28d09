// The canonical-base64 rule of verifyBundle (schemas/bundle/verify.ts) decides from the last
// quantum alone; here against the whole-string rule it replaced (decode, re-encode, compare) on
// every last character after 0, 1 and 2 bytes of tail, and on random payload lengths.
import { describe, expect, it } from 'vitest';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { BUNDLE_PAYLOAD_TYPE } from '../../schemas/bundle/dsse.ts';
import { decodeUnverified } from '../../schemas/bundle/verify.ts';
import { mulberry32 } from '../support/prng.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const envelopeWith = (payload: string): Buffer => Buffer.from(JSON.stringify({ payloadType: BUNDLE_PAYLOAD_TYPE, payload, signatures: [] }));

/** 'ok', or the refusal's message. */
function outcome(payload: string): string {
  try {
    decodeUnverified(envelopeWith(payload));
    return 'ok';
  } catch (error) {
    if (error instanceof BundleError) return error.message;
    throw error;
  }
}

const wholeStringRule = (text: string): string => (Buffer.from(text, 'base64').toString('base64') === text ? 'ok' : 'the payload is not canonical base64');

describe('when a payload is checked for canonical base64', () => {
  it('agrees with the whole-string rule on every last character, for every tail length', () => {
    const random = mulberry32(7);
    let refused = 0;
    for (const length of [0, 1, 2, 3, 4, 5, 30, 31, 32, 1000, 1001, 1002]) {
      const bytes = Buffer.from(Array.from({ length }, () => random.int(256)));
      const canonical = bytes.toString('base64');
      const cut = canonical.replace(/=+$/, '');
      const padding = canonical.slice(cut.length);
      expect(outcome(canonical)).toBe('ok');
      if (cut.length === 0) continue;
      for (const last of ALPHABET) {
        const text = `${cut.slice(0, -1)}${last}${padding}`;
        const expected = wholeStringRule(text);
        if (expected !== 'ok') refused++;
        expect(outcome(text), text.slice(-6)).toBe(expected);
      }
    }
    // Tails of 1 and 2 bytes leave free bits: most last characters are refused there.
    expect(refused).toBeGreaterThan(100);
  });
});
