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
  private readonly leases = new Map<string, Map<string, number>>();
  private readonly counters = new Map<string, { used: number; expiresMs: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Full buckets and finished periods are dropped, so memory follows the active buckets only.
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  check(checks: readonly StoreCheck[]): CheckResult {
    const now = this.now();
    const states: CheckState[] = [];
    let ok = true;
    for (const c of checks) {
      const state = this.look(c, now);
      if (state.retryMs > 0) ok = false;
      states.push(state);
    }
    if (ok) for (let i = 0; i < checks.length; i++) this.take(checks[i] as StoreCheck, now);
    return { ok, states };
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

  private take(c: StoreCheck, now: number): void {
    switch (c.kind) {
      case 'rate': {
        const bucket = this.tats.get(c.key);
        const tat = Math.max(bucket?.tat ?? now, now) + (c.cost * c.periodMs) / c.limit;
        if (bucket === undefined) this.tats.set(c.key, { tat });
        else bucket.tat = tat;
        return;
      }
      case 'concurrent': {
        let set = this.leases.get(c.key);
        if (set === undefined) this.leases.set(c.key, (set = new Map()));
        set.set(c.lease, now + c.ttlMs);
        return;
      }
      case 'budget':
        this.add(c.key, c.cost, c.endMs);
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

  private add(key: string, delta: number, endMs: number): void {
    const counter = this.counters.get(key);
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
