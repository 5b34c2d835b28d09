// Flat string storage for the activated bundle: every string of a table in one UTF-8 byte array
// with an offsets array, and a string -> int lookup as an open-addressing hash over it. Both are
// plain typed arrays, built where the bundle is parsed (the activation worker) and handed to the
// main thread without copying (their ArrayBuffers are transferred). A hundred thousand names as
// JavaScript strings and Map entries cost tens of MB and a long build on the event loop; here they
// cost their bytes plus 12 bytes each.

/** n strings: string i is bytes[offsets[i] .. offsets[i + 1]). */
export interface StringTableData {
  bytes: Uint8Array;
  offsets: Uint32Array;
}

/** A lookup from the strings of `keys` to `values[i]`; `slots` holds entry index + 1 (0: empty). */
export interface HashIndexData {
  keys: StringTableData;
  hashes: Uint32Array;
  values: Int32Array;
  slots: Uint32Array;
}

/** Encodes strings into one table (each typed array owns its ArrayBuffer, so it can be transferred). */
export function encodeStrings(strings: readonly string[]): StringTableData {
  const offsets = new Uint32Array(new ArrayBuffer((strings.length + 1) * 4));
  // One encode of all the strings at once: a call per string cost a third of an activation's
  // table build. UTF-8 (Buffer's default) takes one byte per UTF-16 unit exactly when every unit
  // is ASCII; then the offsets are the strings' lengths.
  const joined = strings.join('');
  const total = Buffer.byteLength(joined);
  const ascii = total === joined.length;
  let at = 0;
  for (let i = 0; i < strings.length; i++) {
    at += ascii ? (strings[i] as string).length : Buffer.byteLength(strings[i] as string);
    offsets[i + 1] = at;
  }
  const bytes = new Uint8Array(new ArrayBuffer(at));
  const view = Buffer.from(bytes.buffer, 0, at);
  if (ascii) view.write(joined, 0);
  // Not ASCII: string by string, so that a lone surrogate at the end of one string is not paired
  // with one at the start of the next.
  else for (let i = 0; i < strings.length; i++) view.write(strings[i] as string, offsets[i] as number);
  return { bytes, offsets };
}

/** Reads a string table back. */
export class StringTable {
  readonly length: number;
  readonly #bytes: Buffer;
  readonly #offsets: Uint32Array;
  constructor(data: StringTableData) {
    this.#bytes = Buffer.from(data.bytes.buffer, data.bytes.byteOffset, data.bytes.byteLength);
    this.#offsets = data.offsets;
    this.length = data.offsets.length - 1;
  }
  get(i: number): string {
    return this.#bytes.toString('utf8', this.#offsets[i], this.#offsets[i + 1]);
  }
}

/** FNV-1a over UTF-16 code units: the same on both threads, no encoding step per lookup. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Builds a lookup; for a key given twice, the later value wins (as Map.set). */
export function buildHashIndex(entries: readonly (readonly [string, number])[]): HashIndexData {
  const keys: string[] = [];
  const values: number[] = [];
  const hashes: number[] = [];
  const capacity = 2 ** Math.max(3, Math.ceil(Math.log2(entries.length * 2 + 1)));
  const slots = new Uint32Array(new ArrayBuffer(capacity * 4));
  const mask = capacity - 1;
  for (const [key, value] of entries) {
    const h = hashString(key);
    let slot = h & mask;
    for (;;) {
      const at = slots[slot] as number;
      if (at === 0) {
        keys.push(key);
        values.push(value);
        hashes.push(h);
        slots[slot] = keys.length;
        break;
      }
      if (hashes[at - 1] === h && keys[at - 1] === key) {
        values[at - 1] = value;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  return {
    keys: encodeStrings(keys),
    hashes: Uint32Array.from(hashes),
    values: Int32Array.from(values),
    slots,
  };
}

/**
 * A string table of byte ranges of src (spans: start, end pairs): what encodeStrings makes of the
 * same text, built from a payload's bytes with no JavaScript string in between.
 */
export function stringsFromSpans(src: Buffer, spans: ArrayLike<number>): StringTableData {
  const count = spans.length / 2;
  const offsets = new Uint32Array(new ArrayBuffer((count + 1) * 4));
  for (let i = 0; i < count; i++) offsets[i + 1] = (offsets[i] as number) + (spans[2 * i + 1] as number) - (spans[2 * i] as number);
  const bytes = new Uint8Array(new ArrayBuffer(offsets[count] as number));
  // Byte by byte: the strings are short, and a subarray per string cost more than its copy.
  for (let i = 0, at = 0; i < count; i++) {
    const end = spans[2 * i + 1] as number;
    for (let j = spans[2 * i] as number; j < end; j++) bytes[at++] = src[j] as number;
  }
  return { bytes, offsets };
}

/**
 * buildHashIndex over byte ranges of src holding valid UTF-8 text (spans: start, end pairs;
 * values[i] for span i): the same data as buildHashIndex of the same strings. The hash is taken
 * over the UTF-16 code units the bytes decode to (an ASCII byte is its own unit).
 */
export function hashIndexFromSpans(src: Buffer, spans: ArrayLike<number>, values: ArrayLike<number>): HashIndexData {
  const count = values.length;
  const keySpans = new Int32Array(2 * count);
  const kept = new Int32Array(count);
  const hashes = new Uint32Array(count);
  let size = 0;
  const capacity = 2 ** Math.max(3, Math.ceil(Math.log2(count * 2 + 1)));
  const slots = new Uint32Array(new ArrayBuffer(capacity * 4));
  const mask = capacity - 1;
  for (let i = 0; i < count; i++) {
    const start = spans[2 * i] as number;
    const end = spans[2 * i + 1] as number;
    let h = 0x811c9dc5;
    for (let j = start; j < end; ) {
      const b = src[j] as number;
      if (b < 0x80) {
        h = Math.imul(h ^ b, 0x01000193);
        j++;
        continue;
      }
      const tail = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : 1;
      let cp = b & (0x3f >> tail);
      for (let k = 1; k <= tail; k++) cp = (cp << 6) | ((src[j + k] as number) & 0x3f);
      j += tail + 1;
      if (cp >= 0x10000) {
        h = Math.imul(h ^ (0xd800 + ((cp - 0x10000) >> 10)), 0x01000193);
        h = Math.imul(h ^ (0xdc00 + ((cp - 0x10000) & 0x3ff)), 0x01000193);
      } else h = Math.imul(h ^ cp, 0x01000193);
    }
    h >>>= 0;
    let slot = h & mask;
    for (;;) {
      const at = slots[slot] as number;
      if (at === 0) {
        keySpans[2 * size] = start;
        keySpans[2 * size + 1] = end;
        kept[size] = values[i] as number;
        hashes[size] = h;
        slots[slot] = ++size;
        break;
      }
      if (hashes[at - 1] === h && src.compare(src, keySpans[2 * at - 2] as number, keySpans[2 * at - 1] as number, start, end) === 0) {
        kept[at - 1] = values[i] as number;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  return { keys: stringsFromSpans(src, keySpans.subarray(0, 2 * size)), hashes: hashes.slice(0, size), values: kept.slice(0, size), slots };
}

/** Reads a lookup back: get() is one hash, a short probe and one string compare. */
export class HashIndex {
  readonly size: number;
  readonly #keys: StringTable;
  readonly #data: HashIndexData;
  readonly #mask: number;
  constructor(data: HashIndexData) {
    this.#data = data;
    this.#keys = new StringTable(data.keys);
    this.#mask = data.slots.length - 1;
    this.size = data.values.length;
  }
  /** The entry number of key, or -1. */
  entry(key: string): number {
    const { slots, hashes } = this.#data;
    const h = hashString(key);
    for (let slot = h & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const at = slots[slot] as number;
      if (at === 0) return -1;
      if (hashes[at - 1] === h && this.#keys.get(at - 1) === key) return at - 1;
    }
  }
  get(key: string): number | undefined {
    const at = this.entry(key);
    return at < 0 ? undefined : this.#data.values[at];
  }
  has(key: string): boolean {
    return this.entry(key) >= 0;
  }
  /** [key, value] in insertion order, as a Map iterates. */
  *[Symbol.iterator](): IterableIterator<[string, number]> {
    for (let i = 0; i < this.size; i++) yield [this.#keys.get(i), this.#data.values[i] as number];
  }
}

/** Every distinct ArrayBuffer under value (typed arrays in plain objects and arrays), for postMessage's transfer list. */
export function transferablesOf(value: unknown, into: Set<ArrayBuffer> = new Set()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) into.add(value.buffer);
  } else if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) transferablesOf(item, into);
  }
  return [...into];
}
