// The upstream calls in flight, so that a shutdown can end the ones still open when the drain
// timeout is reached: each ends as a relay does on a failed call (an SSE stream with an error
// event in OpenAI's shape, a call still waiting with a 503), with its audit line, code
// MG_SHUTTING_DOWN. One registry per server; a call is in it from dispatch to its ending.
//
// Slots in an array, not a Set: every request goes in and out, and with a Set the requests'
// objects outlived them. Measured on a gateway at 400 req/s (--trace-gc-nvp): about a quarter of
// everything allocated survived young collections and was promoted, 2 to 3 MB a second, which
// made each scavenge take 10 to 20 ms; with the slots (and mock.ts's controller) about 5 % survive.
// (V8 keeps a Set's old hash tables, and what they held, for the Set's iterators when it rehashes;
// an old table in the old generation holds its entries past young collections.)

/** What the drain needs of one call (proxy/relay.ts implements it). */
export interface CuttableCall {
  /** Ends the call now with MG_SHUTTING_DOWN; its ending removes it from the registry. */
  cut(): void;
}

export class InFlightCalls {
  private readonly slots: (CuttableCall | undefined)[] = [];
  /** Slots emptied by delete(), taken again first. */
  private readonly free: number[] = [];
  private open = 0;

  /** Registers call; the slot it returns is what delete() takes. */
  add(call: CuttableCall): number {
    const slot = this.free.length > 0 ? (this.free.pop() as number) : this.slots.length;
    this.slots[slot] = call;
    this.open++;
    return slot;
  }

  /** Removes call from its slot (nothing when the slot no longer holds it). */
  delete(slot: number, call: CuttableCall): void {
    if (this.slots[slot] !== call) return;
    this.slots[slot] = undefined;
    this.free.push(slot);
    this.open--;
  }

  get size(): number {
    return this.open;
  }

  /** Ends every call still open; returns how many there were. */
  cutAll(): number {
    const open = this.slots.filter((call): call is CuttableCall => call !== undefined);
    for (const call of open) call.cut();
    return open.length;
  }
}
