// What a limits store does: check every meter a request touches and, only when all of them have
// room, take from all of them, atomically (one Lua script in Redis, one synchronous call in
// memory); afterwards settle what the request really used. Both stores share these semantics:
// - rates are GCRA (the generic cell rate algorithm): one number per bucket, the theoretical
//   arrival time; a cost of n tokens moves it by n emission intervals, so tokens and requests are
//   the same algorithm; a bucket is full again (reset) when that time is reached;
// - concurrency is a set of leases, each with an expiry, so that a gateway that dies holding a
//   lease frees it at the expiry instead of leaking the slot;
// - budgets are counters per calendar period; a request is admitted while the counter is under
//   the cap (its reservation taken), and the counter is corrected by the request's real usage.

export type StoreCheck =
  /** GCRA: limit per periodMs; cost in requests or tokens. */
  | { kind: 'rate'; key: string; limit: number; periodMs: number; cost: number }
  /**
   * At most max leases; this request's lease expires ttlMs from now. A lease is a number unique in
   * the process (the Redis store names it in the fleet with an id of its own).
   */
  | { kind: 'concurrent'; key: string; max: number; lease: number; ttlMs: number }
  /** A counter under cap until endMs (the period's end); cost added on admission. */
  | { kind: 'budget'; key: string; cap: number; cost: number; endMs: number };

/** Each check's state after the decision (for the headers and the refusal). */
export interface CheckState {
  /** What is left (requests or tokens; for a budget, cap minus used). */
  remaining: number;
  /** Until the bucket is full again (rate), or the period ends (budget); 0 for concurrency. */
  resetMs: number;
  /** For a refused check: how long until it would admit this request. 0 when admitted. */
  retryMs: number;
}

export interface CheckResult {
  /** Every check admitted (and all were taken); false: none was taken. */
  ok: boolean;
  states: CheckState[];
}

export type StoreSettle =
  /** Moves a rate bucket by delta (the real cost minus the reserved one; may be negative). */
  | { kind: 'rate'; key: string; limit: number; periodMs: number; delta: number }
  | { kind: 'concurrent'; key: string; lease: number }
  | { kind: 'budget'; key: string; delta: number; endMs: number };

export interface LimitStore {
  /** Checks and takes, all or nothing. Rejects (never hangs past its timeout) when the store fails. */
  check(checks: readonly StoreCheck[]): CheckResult | Promise<CheckResult>;
  /** Corrects and releases after the request ended. Best effort: failures are reported, not thrown. */
  settle(settles: readonly StoreSettle[]): void | Promise<void>;
  /** Resolves once the store can answer, or when its first connection attempt failed or timed out. */
  ready?(): Promise<void>;
  close(): Promise<void>;
}

/** A budget counter outlives its period by this much (late settlements still land in it). */
export const BUDGET_GRACE_MS = 24 * 3_600_000;
