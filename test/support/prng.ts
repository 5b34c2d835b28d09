// Seeded pseudo-random numbers for generated test data: the same seed gives the same policy set,
// so a failing differential or benchmark run can be replayed exactly.

/** A source of reproducible randomness. */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T;
  /** k distinct elements (k clamped to the list length), in random order. */
  sample<T>(list: readonly T[], k: number): T[];
  /** A shuffled copy. */
  shuffle<T>(list: readonly T[]): T[];
}

/** mulberry32: a tiny 32-bit generator, good enough for test data (not for secrets). */
export function mulberry32(seed: number): Prng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const shuffle = <T>(list: readonly T[]): T[] => {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: <T>(list: readonly T[]): T => {
      if (list.length === 0) throw new Error('pick from an empty list');
      return list[int(list.length)] as T;
    },
    sample: <T>(list: readonly T[], k: number): T[] => {
      if (k >= list.length) return shuffle(list);
      // Small k out of a long list: rejection keeps it O(k) instead of shuffling everything.
      if (k * 4 < list.length) {
        const picked = new Set<number>();
        while (picked.size < k) picked.add(int(list.length));
        return [...picked].map((i) => list[i] as T);
      }
      return shuffle(list).slice(0, k);
    },
    shuffle,
  };
}
