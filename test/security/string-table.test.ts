// The flat string table and its open-addressing hash index (schemas/bundle/string-table.ts), in
// process: UTF-8 round trips, FNV-1a values, capacity, probing past collisions, a full 32-bit hash
// collision, absent keys, duplicates, and the transfer list.
import { describe, expect, it } from 'vitest';
import { buildHashIndex, encodeStrings, HashIndex, hashString, StringTable, transferablesOf } from '../../schemas/bundle/string-table.ts';

// Two different keys with the same FNV-1a hash (found by search), so only the string compare tells them apart.
const SAME_HASH = ['k32728', 'k261234'] as const;

describe('encodeStrings and StringTable', () => {
  it('round-trips ASCII, multi-byte and empty strings with byte offsets', () => {
    const strings = ['alice', '', 'é', 'naïve 東京', '🙂x'];
    const data = encodeStrings(strings);
    expect(Array.from(data.offsets)).toEqual([0, 5, 5, 7, 20, 25]);
    expect(data.bytes.byteLength).toBe(25);
    const table = new StringTable(data);
    expect(table.length).toBe(5);
    expect(strings.map((_, i) => table.get(i))).toEqual(strings);
  });

  it('has length 0 for no strings', () => {
    expect(new StringTable(encodeStrings([])).length).toBe(0);
  });

  it('encodes all-ASCII tables in one pass with the same bytes and offsets as string by string', () => {
    const strings = ['uid-000001', '', 'user-000001', 'x', '~!"\\\u007f'];
    const data = encodeStrings(strings);
    expect(Buffer.from(data.bytes).toString('latin1')).toBe(strings.join(''));
    expect(Array.from(data.offsets)).toEqual([0, 10, 10, 21, 22, 27]);
  });

  it('never pairs a lone high surrogate at the end of one string with a low one at the start of the next', () => {
    // Each lone surrogate is its own replacement character (3 bytes), as Buffer encodes it alone.
    const strings = ['a\ud83d', '\ude42b'];
    const data = encodeStrings(strings);
    expect(Array.from(data.offsets)).toEqual([0, 4, 8]);
    const table = new StringTable(data);
    expect([table.get(0), table.get(1)]).toEqual(['a\ufffd', '\ufffdb']);
  });
});

describe('hashString', () => {
  it('is 32-bit FNV-1a over every UTF-16 code unit', () => {
    expect(hashString('')).toBe(0x811c9dc5);
    expect(hashString('a')).toBe(3826002220);
    expect(hashString('ab')).toBe(1294271946);
    expect(hashString(SAME_HASH[0])).toBe(hashString(SAME_HASH[1]));
  });
});

describe('buildHashIndex', () => {
  it('sizes the slots to the next power of two above twice the entries, at least 8', () => {
    expect(buildHashIndex([]).slots.length).toBe(8);
    expect(buildHashIndex([['a', 1]]).slots.length).toBe(8);
    const four = Array.from({ length: 4 }, (_, i) => [`k${i}`, i] as const);
    expect(buildHashIndex(four).slots.length).toBe(16);
    const hundred = Array.from({ length: 100 }, (_, i) => [`k${i}`, i] as const);
    expect(buildHashIndex(hundred).slots.length).toBe(256);
  });

  it('keeps the later value of a key given twice, as Map.set', () => {
    const data = buildHashIndex([
      ['a', 1],
      ['b', 2],
      ['a', 3],
    ]);
    expect(Array.from(data.values)).toEqual([3, 2]);
    const idx = new HashIndex(data);
    expect(idx.size).toBe(2);
    expect(idx.get('a')).toBe(3);
    expect([...idx]).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
  });
});

describe('HashIndex', () => {
  it('finds every one of many keys (collisions, probing, wrap-around) and no absent one', () => {
    const n = 3000;
    const entries = Array.from({ length: n }, (_, i) => [`key-${i}`, i * 7] as const);
    const idx = new HashIndex(buildHashIndex(entries));
    expect(idx.size).toBe(n);
    for (let i = 0; i < n; i++) {
      expect(idx.entry(`key-${i}`)).toBe(i);
      expect(idx.get(`key-${i}`)).toBe(i * 7);
      expect(idx.has(`key-${i}`)).toBe(true);
    }
    for (let i = n; i < 2 * n; i++) {
      expect(idx.entry(`key-${i}`)).toBe(-1);
      expect(idx.get(`key-${i}`)).toBeUndefined();
      expect(idx.has(`key-${i}`)).toBe(false);
    }
    expect([...idx]).toEqual(entries.map(([k, v]) => [k, v]));
  });

  it('tells apart two keys with the same hash, and a third absent one with it', () => {
    const idx = new HashIndex(
      buildHashIndex([
        [SAME_HASH[0], 10],
        [SAME_HASH[1], 20],
        [SAME_HASH[0], 11],
      ]),
    );
    expect(idx.size).toBe(2);
    expect(idx.get(SAME_HASH[0])).toBe(11);
    expect(idx.get(SAME_HASH[1])).toBe(20);
    expect(idx.entry(SAME_HASH[1])).toBe(1);
    const one = new HashIndex(buildHashIndex([[SAME_HASH[0], 10]]));
    expect(one.get(SAME_HASH[1])).toBeUndefined();
    expect(one.has(SAME_HASH[1])).toBe(false);
    expect(one.has(SAME_HASH[0])).toBe(true);
  });

  it('reports entry 0 as present and an empty index as holding nothing', () => {
    const idx = new HashIndex(buildHashIndex([['only', 0]]));
    expect(idx.entry('only')).toBe(0);
    expect(idx.has('only')).toBe(true);
    expect(idx.get('only')).toBe(0);
    const empty = new HashIndex(buildHashIndex([]));
    expect(empty.size).toBe(0);
    expect(empty.has('')).toBe(false);
    expect([...empty]).toEqual([]);
  });
});

describe('transferablesOf', () => {
  it('collects each distinct ArrayBuffer under nested objects and arrays, once', () => {
    const a = new Uint8Array(4);
    const b = new Uint32Array(2);
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const value = { a, nested: { list: [b, a.subarray(1)], text: 'abc', n: 3, nothing: null, shared }, again: b };
    const found = transferablesOf(value);
    expect(found).toHaveLength(2);
    expect(found).toContain(a.buffer);
    expect(found).toContain(b.buffer);
    expect(transferablesOf(a)).toEqual([a.buffer]);
    expect(transferablesOf(shared)).toEqual([]);
    expect(transferablesOf(null)).toEqual([]);
    expect(transferablesOf('text')).toEqual([]);
  });
});
