// A DSSE envelope read without turning its payload into a JavaScript string. JSON.parse of a
// 30 MB envelope makes the whole text a string, then the payload's base64 another one: 60 MB of
// memory touched and a third of a 100k-principal bundle's verification. Here the payload's text is
// found in the envelope's bytes, checked to be strict, canonical base64 and decoded straight after
// the PAE header (the bytes a signature covers, dsse.ts) in one buffer; the rest of the envelope,
// with the payload's text taken out, goes through JSON.parse as usual.
//
// Why that is the same as JSON.parse of the whole envelope: the text taken out lies between two
// quotes and holds only base64 characters (letters, digits, + / and =), which a JSON string holds
// as they are. So the envelope is valid JSON exactly when the rest is, and parses to the same value
// but for the payload. The payload is the value of the top-level key "payload" when no top-level
// key is written with an escape (that could also spell payload) and the key occurs once. Anything
// else (another shape, an escape in a key, a duplicate, a payload that is not canonical base64,
// invalid JSON) returns null, and the caller parses the envelope whole, with its refusals.
import { paeHeader } from './dsse.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const EQUALS = 0x3d;
const PAYLOAD_KEY = Buffer.from('payload');

/** Base64 alphabet values by byte; 0xff for any other byte ('=' included). */
const DECODE = new Uint8Array(256).fill(0xff);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) DECODE[c.charCodeAt(0)] = i;

export interface ScannedEnvelope {
  /** The envelope parsed with an empty payload: its payloadType and signatures. */
  rest: Record<string, unknown>;
  payloadType: string;
  /** PAE(payloadType, payload): the bytes a signature covers. */
  signed: Buffer;
  /** Where the payload starts in signed. */
  payloadOffset: number;
}

/** The envelope read as above, or null when the caller must parse it whole. */
export function scanEnvelope(bytes: Buffer): ScannedEnvelope | null {
  const span = payloadSpan(bytes);
  if (span === null) return null;
  let rest: unknown;
  try {
    rest = JSON.parse(bytes.toString('utf8', 0, span.start) + bytes.toString('utf8', span.end));
  } catch {
    return null;
  }
  if (typeof rest !== 'object' || rest === null || Array.isArray(rest)) return null;
  const { payload, payloadType } = rest as Record<string, unknown>;
  if (payload !== '' || typeof payloadType !== 'string') return null;
  const text = bytes.subarray(span.start, span.end);
  if (text.length % 4 !== 0) return null;
  const padding = text.length > 0 && text[text.length - 1] === EQUALS ? (text[text.length - 2] === EQUALS ? 2 : 1) : 0;
  const header = paeHeader(payloadType, (text.length / 4) * 3 - padding);
  const signed = Buffer.allocUnsafe(header.length + (text.length / 4) * 3 - padding);
  header.copy(signed);
  if (!decodeInto(text, padding, signed, header.length)) return null;
  return { rest: rest as Record<string, unknown>, payloadType, signed, payloadOffset: header.length };
}

/** The byte range of the top-level "payload" string's text, or null (see the top of the file). */
function payloadSpan(bytes: Buffer): { start: number; end: number } | null {
  let depth = 0;
  let span: { start: number; end: number } | null = null;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === QUOTE) {
      const close = stringEnd(bytes, i);
      if (close < 0) return null;
      const after = skipSpace(bytes, close + 1);
      if (depth === 1 && bytes[after] === COLON) {
        // A key of the top-level object.
        if (bytes.subarray(i + 1, close).includes(BACKSLASH)) return null;
        if (close - i - 1 === PAYLOAD_KEY.length && bytes.compare(PAYLOAD_KEY, 0, PAYLOAD_KEY.length, i + 1, close) === 0) {
          if (span !== null) return null;
          const open = skipSpace(bytes, after + 1);
          if (bytes[open] !== QUOTE) return null;
          const end = bytes.indexOf(QUOTE, open + 1);
          if (end < 0) return null;
          span = { start: open + 1, end };
          i = end;
          continue;
        }
      }
      i = close;
    } else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) depth--;
  }
  return span;
}

/** The index of the quote that ends the JSON string opened at `open`, or -1 (payload-scan.ts uses it too). */
export function stringEnd(bytes: Buffer, open: number): number {
  for (let i = open + 1; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === BACKSLASH) i++;
    else if (b === QUOTE) return i;
  }
  return -1;
}

function skipSpace(bytes: Buffer, from: number): number {
  let i = from;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return i;
}

/**
 * Decodes base64 text of whole quanta whose last `padding` characters are '=' into out at offset;
 * false when any other character is outside the alphabet or the encoding is not canonical.
 */
function decodeInto(text: Buffer, padding: number, out: Buffer, offset: number): boolean {
  const full = text.length - (padding > 0 ? 4 : 0);
  let bad = 0;
  let j = offset;
  for (let i = 0; i < full; i += 4) {
    const a = DECODE[text[i] as number] as number;
    const b = DECODE[text[i + 1] as number] as number;
    const c = DECODE[text[i + 2] as number] as number;
    const d = DECODE[text[i + 3] as number] as number;
    bad |= a | b | c | d;
    out[j++] = (a << 2) | (b >> 4);
    out[j++] = ((b & 15) << 4) | (c >> 2);
    out[j++] = ((c & 3) << 6) | d;
  }
  if (padding > 0) {
    const a = DECODE[text[full] as number] as number;
    const b = DECODE[text[full + 1] as number] as number;
    // One '=': three characters carry two bytes, the last two bits must be zero. Two: two carry one.
    const c = padding === 1 ? (DECODE[text[full + 2] as number] as number) : 0;
    bad |= a | b | c;
    out[j++] = (a << 2) | (b >> 4);
    if (padding === 1) out[j++] = ((b & 15) << 4) | (c >> 2);
    if (padding === 1 ? (c & 3) !== 0 : (b & 15) !== 0) return false;
  }
  // An alphabet value is below 64; 0xff marks any other byte.
  return (bad & 0xc0) === 0;
}
