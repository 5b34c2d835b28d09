// The model FQN is replaced by the provider's name in the caller's bytes, without re-serializing
// the body: JSON.stringify of a parsed chat body costs more the longer the conversation, the
// splice costs a scan of the top-level members (string contents are skipped with indexOf).
// Only ever run on bytes JSON.parse accepted; whenever the scan meets anything it does not expect
// (or the key is spelled with escapes it cannot compare), it answers null and the caller falls
// back to JSON.stringify of the parsed object, which is always right.
import { isUtf8 } from 'node:buffer';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MODEL = Buffer.from('"model"');

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(b: Buffer, i: number): number {
  while (isSpace(b[i])) i++;
  return i;
}

// i is at an opening quote; returns the index after the closing one (a quote preceded by an even
// number of backslashes), or -1.
function stringEnd(b: Buffer, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = b.indexOf(QUOTE, from);
    if (q < 0) return -1;
    let slashes = 0;
    while (b[q - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    from = q + 1;
  }
}

// i is at the first byte of a value; returns the index after it, or -1.
function valueEnd(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return stringEnd(b, i);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    while (i < b.length) {
      const d = b[i] as number;
      if (d === QUOTE) {
        i = stringEnd(b, i);
        if (i < 0) return -1;
        continue;
      }
      if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
      else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  // number, true, false, null
  while (i < b.length && !isSpace(b[i]) && b[i] !== COMMA && b[i] !== CLOSE_OBJECT && b[i] !== CLOSE_ARRAY) i++;
  return i;
}

function isModelKey(b: Buffer, start: number, end: number): boolean | null {
  if (end - start === MODEL.length && b.compare(MODEL, 0, MODEL.length, start, end) === 0) return true;
  // "mod\u0065l" is "model" too: decode keys that hold an escape and are short enough to be it.
  if (end - start <= 7 * 6 + 2 && b.subarray(start, end).includes(BACKSLASH)) {
    try {
      return JSON.parse(b.toString('utf8', start, end)) === 'model';
    } catch {
      return null;
    }
  }
  return false;
}

/**
 * Byte offsets [start, end) of the value of the top-level "model" member of a JSON object, when
 * it is a string and the object has `members` top-level members and no duplicate; else null.
 */
export function modelSpan(b: Buffer, members: number): [number, number] | null {
  let i = skipSpace(b, 0);
  if (b[i] !== OPEN_OBJECT) return null;
  i = skipSpace(b, i + 1);
  if (b[i] === CLOSE_OBJECT) return null;
  let span: [number, number] | null = null;
  let seen = 0;
  for (;;) {
    if (b[i] !== QUOTE) return null;
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return null;
    const isModel = isModelKey(b, i, keyEnd);
    if (isModel === null) return null;
    i = skipSpace(b, keyEnd);
    if (b[i] !== COLON) return null;
    const start = skipSpace(b, i + 1);
    const end = valueEnd(b, start);
    if (end < 0) return null;
    seen++;
    if (isModel) {
      if (span !== null || b[start] !== QUOTE) return null;
      span = [start, end];
    }
    i = skipSpace(b, end);
    if (b[i] === CLOSE_OBJECT) break;
    if (b[i] !== COMMA) return null;
    i = skipSpace(b, i + 1);
  }
  // More members than keys means a duplicate key somewhere at the top level: parsers disagree on
  // which one wins (JSON.parse keeps the last, some keep the first), so only a re-serialized body,
  // holding exactly what was authorized, may go upstream.
  return seen === members ? span : null;
}

/**
 * The body to send upstream: the caller's bytes with the model's value replaced by the JSON string
 * of model, or JSON.stringify(json) (whose model is already the upstream name) when the bytes are
 * not valid UTF-8 or have a top-level duplicate key or a "model" key the scan cannot place.
 */
export function bodyWithModel(bytes: Buffer, json: Record<string, unknown>, model: string): Buffer {
  const span = isUtf8(bytes) ? modelSpan(bytes, Object.keys(json).length) : null;
  if (span === null) return Buffer.from(JSON.stringify(json));
  return Buffer.concat([bytes.subarray(0, span[0]), Buffer.from(JSON.stringify(model)), bytes.subarray(span[1])]);
}
