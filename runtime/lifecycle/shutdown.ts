// A graceful shutdown, in the order a load balancer needs it:
//   1. draining: /readyz answers 503 while every request is still served, for delayMs, so that
//      the load balancer (or Kubernetes' endpoints controller) stops sending new traffic first;
//   2. background work stops (bundle poll, secret refresh) and the listener stops accepting;
//      requests in flight run to their end for up to drainMs;
//   3. at drainMs the calls still open are cut (streams end with an SSE error event and their
//      audit line, see lifecycle/in-flight.ts); their connections close once those endings are
//      written, and whatever is still open a moment later (a request still being read) is closed;
//   4. the upstream pool closes and the logs (audit lines included) are flushed.
// Each step is a function handed in by start.ts, so this order is testable on its own.

export interface ShutdownPlan {
  /** How long /readyz answers 503 while requests are still served. */
  delayMs: number;
  /** How long requests in flight may run once the listener stopped accepting. */
  drainMs: number;
  /**
   * After the cut, how long the cut endings have to reach their callers before every connection
   * is closed (default 1 s). Closing at once could reset a connection whose last bytes the caller
   * has not read yet, and the caller would see a broken connection instead of the error event.
   */
  cutGraceMs?: number;
}

export interface ShutdownSteps {
  /** Step 1: readiness turns 503. */
  markDraining(): void;
  /** Step 2: stops the bundle poll and the secret refresh. */
  stopBackground(): void;
  /** Step 2: stops accepting; resolves once every request in flight has ended. */
  closeListener(): Promise<void>;
  /** Step 3: ends the calls still open; returns how many. */
  cutInFlight(): number;
  /** Step 3, a moment after the cut: closes every connection still open. */
  closeConnections(): void;
  /** Step 4: closes the upstream pool and secret sources. */
  closeClients(): Promise<void>;
  /** Step 4: the one place where the logs and the audit stream are flushed. */
  flush(): void;
  /** Progress, for the operations log. */
  onStep?(step: 'draining' | 'stopped_accepting' | 'drained' | 'drain_timeout' | 'closed', detail?: Record<string, unknown>): void;
}

/** Runs the shutdown; resolves once everything is closed and flushed. */
export async function gracefulShutdown(plan: ShutdownPlan, steps: ShutdownSteps): Promise<void> {
  const report = steps.onStep ?? (() => {});
  steps.markDraining();
  report('draining', { delay_ms: plan.delayMs, drain_ms: plan.drainMs });
  if (plan.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, plan.delayMs));

  steps.stopBackground();
  const closed = steps.closeListener();
  report('stopped_accepting');
  if ((await closedWithin(closed, plan.drainMs)) === 'drained') report('drained');
  else {
    const cut = steps.cutInFlight();
    report('drain_timeout', { cut });
    if ((await closedWithin(closed, plan.cutGraceMs ?? 1_000)) === 'timeout') steps.closeConnections();
    await closed;
  }

  await steps.closeClients();
  report('closed');
  steps.flush();
}

/** 'drained' when closed settles within ms, else 'timeout'. */
async function closedWithin(closed: Promise<void>, ms: number): Promise<'drained' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const first = await Promise.race([closed.then(() => 'drained' as const), deadline]);
  clearTimeout(timer);
  return first;
}
