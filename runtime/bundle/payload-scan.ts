// The activation worker's fast path for a payload's long lists, principals, keys and access
// classes: read straight from the payload's bytes into the flat layouts (compact.ts), with no
// JavaScript object or string per principal, key or class. JSON.parse of a 100k-principal
// payload made about 400,000 objects and strings that all survived until the layouts were built;
// the copying of them by the garbage collector cost more than the parse, and the layouts then
// re-encoded every string.
//
// It reads exactly what a compiler writes (compiler/bundle/build-payload.ts through
// JSON.stringify): each principal and key an object with its fields in the compiler's order, each
// access class a list of integers, no whitespace, strings in valid UTF-8 without escapes,
// integers without sign, fraction or exponent. Everything it accepts is valid JSON that the bundle
// schema accepts, and it builds what compactBundle builds from the parsed objects
// (test/security/payload-scan.test.ts). Anything else (another order, an escape, bytes that are
// not UTF-8, a value out of range, any doubt) returns null, and the caller parses the payload whole, with the
// schema's refusals. The rest of the payload (the lists written as []) still goes through
// JSON.parse and the schema: rest is its text.

import { stringEnd } from '../../schemas/bundle/envelope-scan.ts';
import type { PackedLists, PrincipalAccess } from '../../schemas/bundle/grant-layout.ts';
import { floatList, intList, type NumberList } from '../../schemas/bundle/int-list.ts';
import { hashIndexFromSpans, stringsFromSpans } from '../../schemas/bundle/string-table.ts';
import { fullFormats } from '../../schemas/bundle/validator-runtime.ts';
import { jsonText } from '../../schemas/bundle/verify.ts';
import type { KeyLayout, PrincipalLayout } from './compact.ts';

export interface ScannedPayload {
  /** The payload's text with the lists read here written as [] (for JSON.parse and the schema). */
  rest: string;
  principals: PrincipalLayout;
  keys: KeyLayout;
  access: PrincipalAccess;
  /** access_classes, CSR-style. */
  classes: PackedLists;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const INT32_MAX = 2 ** 31 - 1;
const dateTime = fullFormats['date-time'] as { validate: (text: string) => boolean };

/** Thrown inside the scan for "not the compiler's shape": the caller falls back to JSON.parse. */
const BAIL = new Error('not the shape the fast path reads');

/** The payload read as above, or null when it must be parsed whole. */
export function scanPayload(src: Buffer): ScannedPayload | null {
  try {
    return scan(src);
  } catch (error) {
    if (error === BAIL) return null;
    throw error;
  }
}

function scan(src: Buffer): ScannedPayload {
  const reader = new Reader(src);
  // Columns start at a size that holds what a payload of this length usually has (a principal
  // takes 50 to 150 bytes of it, a key over 100), so that they seldom grow: a grown column's old
  // store is freed in the worker's malloc arena, which outlives the worker as resident memory.
  const many = Math.ceil(src.length / 64);
  const principals = new PrincipalReader(reader, many);
  const keys = new KeyReader(reader, Math.ceil(many / 2));
  const classes = { off: intList(many), values: intList(many * 4) };
  classes.off.push(0);
  const readers: Record<ListName, () => void> = {
    principals: () => principals.read(),
    keys: () => keys.read(),
    access_classes: () =>
      reader.list(() => {
        reader.ints(classes.values);
        classes.off.push(classes.values.length);
      }),
  };
  const found = reader.topLevelLists(readers);
  // Keys name principals by index, principals access classes, and classes rules; the schema
  // bounds none of them, and neither does this (the layouts read them as compactBundle's do).
  let rest = '';
  let from = 0;
  for (const list of found) {
    rest += `${jsonText(src, from, list.start)}[]`;
    from = list.end;
  }
  rest += jsonText(src, from);
  return {
    rest,
    ...principals.layout(),
    keys: keys.layout(),
    classes: { off: Uint32Array.from(classes.off.view()), values: classes.values.copy() },
  };
}

/** The payload's lists read here; the rest of the payload is parsed as usual. */
type ListName = 'principals' | 'keys' | 'access_classes';
const LISTS: readonly string[] = ['principals', 'keys', 'access_classes'] satisfies ListName[];

interface ListSpan {
  name: ListName;
  start: number;
  end: number;
}

class Reader {
  at = 0;
  constructor(readonly src: Buffer) {}

  /**
   * Where the values of the top-level keys "principals" and "keys" lie, each read by read(name)
   * as the walk comes to it. The walk follows JSON's structure over the rest of the payload; each
   * key must occur once at the top level and no top-level key may hold an escape.
   */
  topLevelLists(readers: Record<ListName, () => void>): ListSpan[] {
    const { src } = this;
    const found: ListSpan[] = [];
    let depth = 0;
    for (let i = 0; i < src.length; i++) {
      const b = src[i] as number;
      if (b === QUOTE) {
        const close = stringEnd(src, i);
        if (close < 0) throw BAIL;
        if (depth === 1 && src[close + 1] === 0x3a) {
          if (src.subarray(i + 1, close).includes(BACKSLASH)) throw BAIL;
          const name = src.toString('latin1', i + 1, close) as ListName;
          if (LISTS.includes(name)) {
            if (found.some((f) => f.name === name)) throw BAIL;
            this.at = close + 2;
            readers[name]();
            found.push({ name, start: close + 2, end: this.at });
            i = this.at - 1;
            continue;
          }
        }
        i = close;
      } else if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) depth--;
    }
    if (found.length !== LISTS.length) throw BAIL;
    return found;
  }

  /** Consumes text (a constant of the compiler's output) when it comes next. */
  take(text: Buffer): boolean {
    const { src, at } = this;
    if (at + text.length > src.length) return false;
    for (let j = 0; j < text.length; j++) if (src[at + j] !== text[j]) return false;
    this.at = at + text.length;
    return true;
  }

  expect(text: Buffer): void {
    if (!this.take(text)) throw BAIL;
  }

  byte(b: number): boolean {
    if (this.src[this.at] !== b) return false;
    this.at++;
    return true;
  }

  /** Where the last string()'s text ended. */
  end = 0;

  /** A string without escapes or control characters, in valid UTF-8: returns where its text starts (end: where it ends). */
  string(): number {
    const { src } = this;
    if (src[this.at] !== QUOTE) throw BAIL;
    const start = this.at + 1;
    let i = start;
    for (; i < src.length; i++) {
      const b = src[i] as number;
      if (b === QUOTE) break;
      if (b < 0x20 || b === BACKSLASH) throw BAIL;
      if (b >= 0x80) i += utf8Tail(src, i);
    }
    if (i >= src.length) throw BAIL;
    this.end = i;
    this.at = i + 1;
    return start;
  }

  /** A non-negative integer as JSON.stringify writes it (no sign, fraction or exponent) up to 2^31 - 1. */
  int(): number {
    const { src } = this;
    let i = this.at;
    const first = src[i] as number;
    if (first === 0x30) i++;
    else if (first < 0x31 || first > 0x39) throw BAIL;
    let value = 0;
    for (; i < src.length; i++) {
      const d = (src[i] as number) - 0x30;
      if (d < 0 || d > 9) break;
      value = value * 10 + d;
      if (value > INT32_MAX) throw BAIL;
    }
    const next = src[i];
    // A leading zero followed by digits is not JSON; a fraction or exponent goes the slow way.
    if (next === 0x2e || next === 0x65 || next === 0x45 || (first === 0x30 && i > this.at + 1)) throw BAIL;
    this.at = i;
    return value;
  }

  /** [int, ...] onto values; returns how many. */
  ints(values: NumberList<Int32Array>): number {
    if (!this.byte(0x5b)) throw BAIL;
    if (this.byte(0x5d)) return 0;
    let n = 0;
    do {
      values.push(this.int());
      n++;
    } while (this.byte(0x2c));
    if (!this.byte(0x5d)) throw BAIL;
    return n;
  }

  /** The elements of a list, each read by item; the list must be the next thing. */
  list(item: () => void): void {
    if (!this.byte(0x5b)) throw BAIL;
    if (this.byte(0x5d)) return;
    do item();
    while (this.byte(0x2c));
    if (!this.byte(0x5d)) throw BAIL;
  }
}

/** In range: lo <= b <= hi (false for a byte past the end). */
const within = (b: number | undefined, lo: number, hi: number): boolean => b !== undefined && b >= lo && b <= hi;

/**
 * The number of continuation bytes of the UTF-8 sequence whose lead byte is at i, checked as
 * Node's decoder would need to read it without replacing anything: no overlong form, no encoded
 * surrogate, nothing above U+10FFFF, no sequence cut short. Anything else: BAIL (Node would give
 * U+FFFD, which the slow path then keeps).
 */
function utf8Tail(src: Buffer, i: number): number {
  const b = src[i] as number;
  const c1 = src[i + 1];
  const tail = (from: number, n: number): boolean => {
    for (let k = from; k <= n; k++) if (!within(src[i + k], 0x80, 0xbf)) return false;
    return true;
  };
  if (b >= 0xc2 && b <= 0xdf && tail(1, 1)) return 1;
  if (b === 0xe0 && within(c1, 0xa0, 0xbf) && tail(2, 2)) return 2;
  if (((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) && tail(1, 2)) return 2;
  if (b === 0xed && within(c1, 0x80, 0x9f) && tail(2, 2)) return 2;
  if (b === 0xf0 && within(c1, 0x90, 0xbf) && tail(2, 3)) return 3;
  if (b >= 0xf1 && b <= 0xf3 && tail(1, 3)) return 3;
  if (b === 0xf4 && within(c1, 0x80, 0x8f) && tail(2, 3)) return 3;
  throw BAIL;
}

const text = (s: string): Buffer => Buffer.from(s, 'latin1');
const P_ID = text('{"id":');
const P_NAME = text(',"name":');
const P_USER = text(',"kind":"user","access_class":');
const P_SERVICE = text(',"kind":"service","access_class":');
const NULL = text('null');
const P_TEAMS = text(',"teams":');
const P_SUBJECT = text(',"oidc_subject":');
const P_CLIENT = text(',"oidc_client_id":');
const P_LIMIT_CLASS = text(',"limit_class":');

/** Entries of a hash index being collected: spans (start, end pairs) of its keys and their values. */
interface Entries {
  spans: NumberList<Int32Array>;
  values: NumberList<Int32Array>;
}

function entry(into: Entries, start: number, end: number, value: number): void {
  into.spans.push(start);
  into.spans.push(end);
  into.values.push(value);
}

/** Principals, as compactBundle and oidcPrincipalLayout make them from the parsed objects. */
class PrincipalReader {
  readonly text: NumberList<Int32Array>;
  readonly kind: NumberList<Int32Array>;
  readonly classOf: NumberList<Int32Array>;
  readonly limitClass: NumberList<Int32Array>;
  readonly memberOff: NumberList<Int32Array>;
  readonly members: NumberList<Int32Array>;
  readonly users: Entries;
  readonly subjects = { spans: intList(), values: intList() };
  readonly services = { spans: intList(), values: intList() };
  constructor(
    readonly reader: Reader,
    many: number,
  ) {
    this.text = intList(many * 4);
    this.kind = intList(many);
    this.classOf = intList(many);
    this.limitClass = intList(many);
    this.memberOff = intList(many);
    this.members = intList(many);
    this.users = { spans: intList(many * 2), values: intList(many) };
    this.memberOff.push(0);
  }

  read(): void {
    this.reader.list(() => this.one());
  }

  one(): void {
    const r = this.reader;
    const i = this.kind.length;
    r.expect(P_ID);
    this.text.push(r.string());
    this.text.push(r.end);
    r.expect(P_NAME);
    const name = r.string();
    this.text.push(name);
    this.text.push(r.end);
    const nameEnd = r.end;
    const service = r.take(P_SERVICE);
    if (!service) r.expect(P_USER);
    this.kind.push(service ? 1 : 0);
    this.classOf.push(r.take(NULL) ? -1 : r.int());
    const teams = r.take(P_TEAMS) ? r.ints(this.members) : 0;
    this.memberOff.push(this.memberOff.at(i) + teams);
    const subject = r.take(P_SUBJECT) ? r.string() : -1;
    const subjectEnd = r.end;
    const client = r.take(P_CLIENT) ? r.string() : -1;
    const clientEnd = r.end;
    this.limitClass.push(r.take(P_LIMIT_CLASS) ? r.int() : -1);
    if (!r.byte(0x7d)) throw BAIL;
    // The OIDC lookups, entry for entry as oidcPrincipalLayout adds them.
    if (!service) {
      entry(this.users, name, nameEnd, i);
      if (subject >= 0) {
        entry(this.users, subject, subjectEnd, i);
        entry(this.subjects, subject, subjectEnd, i);
      }
    } else if (client >= 0) entry(this.services, client, clientEnd, i);
  }

  layout(): { principals: PrincipalLayout; access: PrincipalAccess } {
    const src = this.reader.src;
    const index = ({ spans, values }: Entries) => hashIndexFromSpans(src, spans.view(), values.view());
    return {
      principals: {
        text: stringsFromSpans(src, this.text.view()),
        kind: Uint8Array.from(this.kind.view()),
        limitClass: this.limitClass.copy(),
        oidc: { users: index(this.users), subjects: index(this.subjects), services: index(this.services) },
      },
      access: { classOf: this.classOf.copy(), members: { off: Uint32Array.from(this.memberOff.view()), values: this.members.copy() } },
    };
  }
}

const K_ID = text('{"id":');
const K_SHA = text(',"sha256":"');
const K_PRINCIPAL = text('","principal":');
const K_EXPIRES = text(',"expires":');
const K_REVOKED = text(',"revoked":');
const TRUE = text('true');
const FALSE = text('false');
const K_LIMITS = text(',"limits":');

/** Hex digit values by byte (lower case only, as the schema's ^[0-9a-f]{64}$); 0xff otherwise. */
const HEX = new Uint8Array(256).fill(0xff);
for (const [i, c] of [...'0123456789abcdef'].entries()) HEX[c.charCodeAt(0)] = i;

/** Keys, as keyLayout in compact.ts makes them from the parsed objects. */
class KeyReader {
  readonly ids: NumberList<Int32Array>;
  /** Grown by doubling; a key's digest is 32 bytes of it. */
  digests: Uint8Array;
  /** expires text -> its time, each distinct text checked once (keys of one batch share one). */
  readonly times = new Map<string, number>();
  readonly principal: NumberList<Int32Array>;
  readonly expires: NumberList<Float64Array>;
  readonly revoked: NumberList<Int32Array>;
  readonly limitsOff: NumberList<Int32Array>;
  readonly limits = intList();
  constructor(
    readonly reader: Reader,
    many: number,
  ) {
    this.ids = intList(many * 2);
    this.principal = intList(many);
    this.expires = floatList(many);
    this.revoked = intList(many);
    this.limitsOff = intList(many);
    this.digests = new Uint8Array(many * 32);
    this.limitsOff.push(0);
  }

  read(): void {
    this.reader.list(() => this.one());
  }

  one(): void {
    const r = this.reader;
    const n = this.principal.length;
    r.expect(K_ID);
    this.ids.push(r.string());
    this.ids.push(r.end);
    r.expect(K_SHA);
    const { src } = r;
    if (r.at + 64 > src.length) throw BAIL;
    if (this.digests.length < (n + 1) * 32) {
      const grown = new Uint8Array(this.digests.length * 2);
      grown.set(this.digests);
      this.digests = grown;
    }
    const digests = this.digests;
    for (let j = r.at, out = n * 32; j < r.at + 64; j += 2) {
      const hi = HEX[src[j] as number] as number;
      const lo = HEX[src[j + 1] as number] as number;
      if ((hi | lo) === 0xff) throw BAIL;
      digests[out++] = (hi << 4) | lo;
    }
    r.at += 64;
    r.expect(K_PRINCIPAL);
    this.principal.push(r.int());
    let expires = Infinity;
    if (r.take(K_EXPIRES)) {
      const value = src.toString('latin1', r.string(), r.end);
      const known = this.times.get(value);
      if (known !== undefined) expires = known;
      else {
        if (!dateTime.validate(value)) throw BAIL;
        expires = Date.parse(value);
        this.times.set(value, expires);
      }
    }
    this.expires.push(expires);
    this.revoked.push(r.take(K_REVOKED) ? (r.take(TRUE) ? 1 : r.take(FALSE) ? 0 : bail()) : 0);
    const limits = r.take(K_LIMITS) ? r.ints(this.limits) : 0;
    this.limitsOff.push(this.limitsOff.at(n) + limits);
    if (!r.byte(0x7d)) throw BAIL;
  }

  layout(): KeyLayout {
    const count = this.principal.length;
    return {
      ids: hashIndexFromSpans(
        this.reader.src,
        this.ids.view(),
        Int32Array.from({ length: count }, (_, n) => n),
      ),
      digests: this.digests.slice(0, count * 32),
      principal: this.principal.copy(),
      expires: this.expires.copy(),
      revoked: Uint8Array.from(this.revoked.view()),
      limitsOff: Uint32Array.from(this.limitsOff.view()),
      limits: this.limits.copy(),
    };
  }
}

function bail(): never {
  throw BAIL;
}
