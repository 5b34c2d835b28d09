// A replaced bundle's tables are freed as soon as the last request that started on it ends, not
// whenever the garbage collector reaches them. The tables of a worker-activated bundle are
// ArrayBuffers transferred from the activation worker (25 MB for 100,000 principals); V8 counts
// them as the event loop's external memory, and with each swap's new tables arriving while the
// replaced ones still counted, nearly every swap of a big bundle set off a mark-compact on the
// event loop, right as the swap ended (`npm run bench:swap` with --trace-gc; docs/runtime.md).
// Detaching them (moving them into a message that is dropped unread) takes them out of that count
// at once and gives their memory back.
//
// A request holds the bundle it started on from the admit step to its one ending
// (http/request-ending.ts); whatever reads a bundle's tables after an await checks that its
// request has not ended first (pipeline.ts, server.ts). Bundles compiled in process (tests,
// tools) have no buffers to release.

/** The requests on one bundle, and its tables' buffers, released once it is replaced and unheld. */
export class BundleHolds {
  private requests = 0;
  private replaced = false;
  private buffers: readonly ArrayBuffer[] | null;
  private detached = false;

  constructor(buffers: readonly ArrayBuffer[] = []) {
    this.buffers = buffers.length > 0 ? buffers : null;
  }

  /** A request starts on the bundle: its tables stay readable until the request gives it back. */
  take(): void {
    this.requests++;
  }

  /** The request has ended. */
  give(): void {
    this.requests--;
    if (this.replaced && this.requests === 0) this.release();
  }

  /** Another bundle is active now, or this one was turned away before it was: no new request takes it. */
  replace(): void {
    this.replaced = true;
    if (this.requests === 0) this.release();
  }

  /** The requests on the bundle that have not ended. */
  get held(): number {
    return this.requests;
  }

  /** Whether the tables' buffers have been released (detached): nothing may read them any more. */
  get released(): boolean {
    return this.detached;
  }

  private release(): void {
    const buffers = this.buffers;
    if (buffers === null) return;
    this.buffers = null;
    this.detached = true;
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(null, buffers as ArrayBuffer[]);
    port1.close();
    port2.close();
  }
}
