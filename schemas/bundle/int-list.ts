// A growable list of numbers in a typed array: what the activation worker collects a column in
// while it reads a payload. A JavaScript array of the same numbers lives on the heap, where every
// scavenge copies it while it grows; a typed array's store is outside it.

export class NumberList<T extends Int32Array | Float64Array> {
  #store: T;
  length = 0;
  /** capacity: the most numbers the caller can expect (untouched pages of a large store cost no memory). */
  constructor(
    readonly make: (size: number) => T,
    capacity = 1024,
  ) {
    this.#store = make(Math.max(16, capacity));
  }
  push(value: number): void {
    if (this.length === this.#store.length) {
      const grown = this.make(this.#store.length * 2);
      grown.set(this.#store);
      this.#store = grown;
    }
    this.#store[this.length++] = value;
  }
  at(i: number): number {
    return this.#store[i] as number;
  }
  /** The numbers so far, as a view (no copy). */
  view(): T {
    return this.#store.subarray(0, this.length) as T;
  }
  /** The numbers so far in an array of their own (transferable alone). */
  copy(): T {
    return this.#store.slice(0, this.length) as T;
  }
}

export const intList = (capacity?: number): NumberList<Int32Array> => new NumberList((size) => new Int32Array(size), capacity);
export const floatList = (capacity?: number): NumberList<Float64Array> => new NumberList((size) => new Float64Array(size), capacity);
