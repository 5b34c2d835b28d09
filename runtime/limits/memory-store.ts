// The default store: this process's memory. Same semantics as the Redis store (store.ts), so a
// test of one is a test of the other's arithmetic; counters are per process and lost on restart
// (docs/limits.md).
import type { CheckResult, CheckState, LimitStore, StoreCheck, StoreSettle } from './store.ts';
import { BUDGET_GRACE_MS } from './store.ts';

const SWEEP_MS = 60_000;

export class MemoryStore implements LimitStore {
  /**
   * Rate buckets: the theoretical arrival time (ms), in an object so that it is updated in place
   * (a Map of numbers stores a new heap number on every request: garbage on the request path).
   */
  private readonly tats = new Map<string, { tat: number }>();
  private readonly leases = new Map<string, Map<number, number>>();
  private readonly counters = new Map<string, { used: number; expiresMs: number }>();
  private readonly sweeper: NodeJS.Timeout;
  /** take()'s undo notes by the meter's place in its request (a rate bucket's arrival time before). */
  private readonly undone: number[] = [];

  constructor(private readonly now: () => number = Date.now) {
    // Full buckets and finished periods are dropped, so memory follows the active buckets only.
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  /**
   * One pass in the common case: each meter is checked and taken from at once (one lookup of its
   * bucket); should one refuse, those taken before it are given back and every meter is looked
   * at again with nothing taken, so that a refusal reports what a separate look would.
   */
  check(checks: readonly StoreCheck[]): CheckResult {
    const now = this.now();
    const states: CheckState[] = new Array(checks.length);
    for (let i = 0; i < checks.length; i++) {
      const state = this.take(checks[i] as StoreCheck, now, i);
      if (state === null) {
        for (let j = i - 1; j >= 0; j--) this.giveBack(checks[j] as StoreCheck, j);
        for (let j = 0; j < checks.length; j++) states[j] = this.look(checks[j] as StoreCheck, now);
        return { ok: false, states };
      }
      states[i] = state;
    }
    return { ok: true, states };
  }

  private look(c: StoreCheck, now: number): CheckState {
    switch (c.kind) {
      case 'rate': {
        const interval = c.periodMs / c.limit;
        const tat = Math.max(this.tats.get(c.key)?.tat ?? now, now);
        const next = tat + c.cost * interval;
        const allowAt = next - c.periodMs;
        if (allowAt > now) return { remaining: Math.max(0, Math.floor((c.periodMs - (tat - now)) / interval)), resetMs: tat - now, retryMs: allowAt - now };
        return { remaining: Math.floor((c.periodMs - (next - now)) / interval), resetMs: next - now, retryMs: 0 };
      }
      case 'concurrent': {
        // Expired leases (of a gateway that died holding them) matter only when they would
        // refuse: below the maximum the lease count is enough, and the walk over every lease of
        // the bucket (one per request in flight) happens only at the maximum.
        const count = this.leases.get(c.key)?.size ?? 0;
        const held = count < c.max ? count : this.liveLeases(c.key, now);
        if (held >= c.max) return { remaining: 0, resetMs: 0, retryMs: 1_000 };
        return { remaining: c.max - held - 1, resetMs: 0, retryMs: 0 };
      }
      case 'budget': {
        const used = this.counters.get(c.key)?.used ?? 0;
        if (used >= c.cap) return { remaining: 0, resetMs: c.endMs - now, retryMs: Math.max(1, c.endMs - now) };
        return { remaining: Math.max(0, c.cap - used - c.cost), resetMs: c.endMs - now, retryMs: 0 };
      }
    }
  }

  /**
   * Checks one meter and, when it admits, takes from it: its state after the take, or null (a
   * refusal: nothing taken). What giveBack needs to undo the take is kept in undone[at].
   */
  private take(c: StoreCheck, now: number, at: number): CheckState | null {
    switch (c.kind) {
      case 'rate': {
        const interval = c.periodMs / c.limit;
        const bucket = this.tats.get(c.key);
        const tat = bucket === undefined || bucket.tat < now ? now : bucket.tat;
        const next = tat + c.cost * interval;
        if (next - c.periodMs > now) return null;
        // A bucket at or before now is full: now is as good as no bucket to give back to.
        this.undone[at] = tat;
        if (bucket === undefined) this.tats.set(c.key, { tat: next });
        else bucket.tat = next;
        return { remaining: Math.floor((c.periodMs - (next - now)) / interval), resetMs: next - now, retryMs: 0 };
      }
      case 'concurrent': {
        // Expired leases are walked only at the maximum, as in look().
        let set = this.leases.get(c.key);
        const count = set?.size ?? 0;
        const held = count < c.max ? count : this.liveLeases(c.key, now);
        if (held >= c.max) return null;
        if (set === undefined) this.leases.set(c.key, (set = new Map()));
        set.set(c.lease, now + c.ttlMs);
        return { remaining: c.max - held - 1, resetMs: 0, retryMs: 0 };
      }
      case 'budget': {
        const counter = this.counters.get(c.key);
        const used = counter?.used ?? 0;
        if (used >= c.cap) return null;
        this.add(c.key, c.cost, c.endMs, counter);
        return { remaining: Math.max(0, c.cap - used - c.cost), resetMs: c.endMs - now, retryMs: 0 };
      }
    }
  }

  /** Undoes take(c, now, at) (a later meter of the same request refused). */
  private giveBack(c: StoreCheck, at: number): void {
    switch (c.kind) {
      case 'rate': {
        const bucket = this.tats.get(c.key);
        if (bucket !== undefined) bucket.tat = this.undone[at] as number;
        return;
      }
      case 'concurrent':
        this.leases.get(c.key)?.delete(c.lease);
        return;
      case 'budget':
        this.add(c.key, -c.cost, c.endMs);
    }
  }

  settle(settles: readonly StoreSettle[]): void {
    const now = this.now();
    for (const s of settles) {
      if (s.kind === 'rate') {
        const bucket = this.tats.get(s.key);
        if (bucket !== undefined) bucket.tat = Math.max(bucket.tat + (s.delta * s.periodMs) / s.limit, now);
      } else if (s.kind === 'concurrent') {
        this.leases.get(s.key)?.delete(s.lease);
      } else {
        this.add(s.key, s.delta, s.endMs);
      }
    }
  }

  /** counter: the key's, when the caller has looked it up already. */
  private add(key: string, delta: number, endMs: number, counter = this.counters.get(key)): void {
    if (counter === undefined) this.counters.set(key, { used: Math.max(0, delta), expiresMs: endMs + BUDGET_GRACE_MS });
    else counter.used = Math.max(0, counter.used + delta);
  }

  private liveLeases(key: string, now: number): number {
    const set = this.leases.get(key);
    if (set === undefined) return 0;
    for (const [lease, expires] of set) if (expires <= now) set.delete(lease);
    return set.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.tats) if (bucket.tat <= now) this.tats.delete(key);
    for (const [key, counter] of this.counters) if (counter.expiresMs <= now) this.counters.delete(key);
    for (const key of this.leases.keys()) if (this.liveLeases(key, now) === 0) this.leases.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
