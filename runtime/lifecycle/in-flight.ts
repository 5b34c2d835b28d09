// The upstream calls in flight, so that a shutdown can end the ones still open when the drain
// timeout is reached: each ends as a relay does on a failed call (an SSE stream with an error
// event in OpenAI's shape, a call still waiting with a 503), with its audit line, code
// MG_SHUTTING_DOWN. One set per server; a call is in it from dispatch to its ending.

/** What the drain needs of one call (proxy/relay.ts implements it). */
export interface CuttableCall {
  /** Ends the call now with MG_SHUTTING_DOWN; its ending removes it from the set. */
  cut(): void;
}

export class InFlightCalls {
  private readonly calls = new Set<CuttableCall>();

  add(call: CuttableCall): void {
    this.calls.add(call);
  }

  delete(call: CuttableCall): void {
    this.calls.delete(call);
  }

  get size(): number {
    return this.calls.size;
  }

  /** Ends every call still open; returns how many there were. */
  cutAll(): number {
    const open = [...this.calls];
    for (const call of open) call.cut();
    return open.length;
  }
}
