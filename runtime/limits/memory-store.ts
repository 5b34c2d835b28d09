// The default store: this process's memory. Same semantics as the Redis store (store.ts), so a
// test of one is a test of the other's arithmetic; counters are per process and lost on restart
// (docs/limits.md).
//
// Every bucket is a slot: a number that indexes typed arrays (a rate bucket's theoretical arrival
// time, a concurrency bucket's requests in flight, a budget counter's use and expiry). The limiter
// binds a request's slots to its cached plan once (takeBound), so admitting a request reads and
// writes a few numbers in one small array. In a gateway the rest of each request pushes the
// store's data out of the CPU's caches and TLB, and every object or map entry touched is then a
// miss: maps of objects by key cost about twice as much a request under that pressure, and the
// gateway's throughput with limits on showed it (docs/limits-measurements.md).
//
// Concurrency is a count here, not leases with an expiry as in Redis: a lease's expiry is for a
// gateway that dies holding it, and this store dies with its gateway. In a live process every
// admitted request gives its slot back at its one ending (http/request-ending.ts), so a check's
// lease and ttlMs are not needed, and a concurrency settlement gives back one slot.
import type { Meter } from './meters.ts';
import type { CheckResult, CheckState, LimitStore, StoreCheck, StoreSettle } from './store.ts';
import { BUDGET_GRACE_MS } from './store.ts';

const SWEEP_MS = 60_000;

const RATE = 0;
const CONCURRENT = 1;
const BUDGET = 2;
const KIND = { rate: RATE, concurrent: CONCURRENT, budget: BUDGET } as const;

/** A request's meters bound to slots (the limiter's cached plan): what takeBound reads and writes. */
export interface BoundMeters {
  readonly meters: readonly Meter[];
  /** Each meter's slot, from bind(), valid while the store's generation is the one bound. */
  readonly slots: Int32Array;
  /** This request's cost of each meter (0 for concurrency). */
  readonly costs: Float64Array;
  /** Out, for rate meters: what remains after the take, and when the bucket is full again (ms). */
  readonly remaining: Float64Array;
  readonly resetMs: Float64Array;
}

export class MemoryStore implements LimitStore {
  private readonly slotByKey = new Map<string, number>();
  /** By slot: its key (null while free). */
  private readonly keys: (string | null)[] = [];
  private kinds = new Uint8Array(64);
  /**
   * By slot: a rate bucket's theoretical arrival time (ms; at or before now: full), a concurrency
   * bucket's requests in flight, a budget counter's use.
   */
  private values = new Float64Array(64);
  /** By slot: when a budget counter may be dropped (its period's end and a grace). */
  private expires = new Float64Array(64);
  private readonly free: number[] = [];
  /**
   * Counts the sweeps that freed slots: a slot bound before the last one may hold another bucket
   * now, so a plan bound at an older generation binds again and a ticket settles by key.
   */
  generation = 0;
  private readonly sweeper: NodeJS.Timeout;
  /** take()'s undo notes by the meter's place in its request (a rate bucket's arrival time before). */
  private readonly undone: number[] = [];

  constructor(private readonly now: () => number = Date.now) {
    // Full buckets and finished periods are dropped, so memory follows the active buckets only.
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  /** The slot of a bucket (made when new; a budget's counter expires a grace after endMs). */
  bind(key: string, kind: 'rate' | 'concurrent' | 'budget', endMs = 0): number {
    const held = this.slotByKey.get(key);
    if (held !== undefined) return held;
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.keys.length;
      this.keys.push(null);
      if (slot >= this.values.length) this.grow();
    }
    this.keys[slot] = key;
    this.kinds[slot] = KIND[kind];
    this.values[slot] = 0;
    this.expires[slot] = endMs + BUDGET_GRACE_MS;
    this.slotByKey.set(key, slot);
    return slot;
  }

  private grow(): void {
    const size = this.values.length * 2;
    const kinds = new Uint8Array(size);
    kinds.set(this.kinds);
    this.kinds = kinds;
    const values = new Float64Array(size);
    values.set(this.values);
    this.values = values;
    const expires = new Float64Array(size);
    expires.set(this.expires);
    this.expires = expires;
  }

  /**
   * The limiter's path: checks every meter of a request bound to its slots and, only when all
   * have room, takes from each (remaining and resetMs filled in for the rate meters). false: a
   * meter refuses and nothing was taken (check() then says which, and what each meter has left).
   */
  takeBound(b: BoundMeters, now: number): boolean {
    const { meters, slots, costs } = b;
    const values = this.values;
    for (let m = 0; m < meters.length; m++) {
      const meter = meters[m] as Meter;
      const slot = slots[m] as number;
      if (meter.kind === 'rate') {
        const tat = values[slot] as number;
        if ((tat < now ? now : tat) + ((costs[m] as number) * meter.periodMs) / meter.limit - meter.periodMs > now) return false;
      } else if ((values[slot] as number) >= (meter.kind === 'concurrent' ? meter.max : meter.cap)) return false;
    }
    for (let m = 0; m < meters.length; m++) {
      const meter = meters[m] as Meter;
      const slot = slots[m] as number;
      if (meter.kind === 'rate') {
        const interval = meter.periodMs / meter.limit;
        const tat = values[slot] as number;
        const next = (tat < now ? now : tat) + (costs[m] as number) * interval;
        values[slot] = next;
        b.remaining[m] = Math.floor((meter.periodMs - (next - now)) / interval);
        b.resetMs[m] = next - now;
      } else values[slot] = (values[slot] as number) + (meter.kind === 'concurrent' ? 1 : (costs[m] as number));
    }
    return true;
  }

  /** The store's clock (a settlement's corrections never move a bucket before it). */
  time(): number {
    return this.now();
  }

  /** A bound rate bucket corrected by delta tokens' worth of time (never before now). */
  correctRate(slot: number, deltaMs: number, now: number): void {
    const tat = (this.values[slot] as number) + deltaMs;
    this.values[slot] = tat > now ? tat : now;
  }

  /** A bound budget counter corrected by delta (never below 0). */
  correctBudget(slot: number, delta: number): void {
    this.values[slot] = Math.max(0, (this.values[slot] as number) + delta);
  }

  /** A bound concurrency bucket's slot given back (its request ended). */
  release(slot: number): void {
    this.values[slot] = Math.max(0, (this.values[slot] as number) - 1);
  }

  /**
   * By key (Redis's interface; the limiter's answer to a refusal). One pass in the common case:
   * each meter is checked and taken from at once; should one refuse, those taken before it are
   * given back and every meter is looked at again with nothing taken, so that a refusal reports
   * what a separate look would.
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
    const slot = this.slotByKey.get(c.key);
    switch (c.kind) {
      case 'rate': {
        const interval = c.periodMs / c.limit;
        const tat = Math.max(slot === undefined ? now : (this.values[slot] as number), now);
        const next = tat + c.cost * interval;
        const allowAt = next - c.periodMs;
        if (allowAt > now) return { remaining: Math.max(0, Math.floor((c.periodMs - (tat - now)) / interval)), resetMs: tat - now, retryMs: allowAt - now };
        return { remaining: Math.floor((c.periodMs - (next - now)) / interval), resetMs: next - now, retryMs: 0 };
      }
      case 'concurrent': {
        const held = slot === undefined ? 0 : (this.values[slot] as number);
        if (held >= c.max) return { remaining: 0, resetMs: 0, retryMs: 1_000 };
        return { remaining: c.max - held - 1, resetMs: 0, retryMs: 0 };
      }
      case 'budget': {
        const used = slot === undefined ? 0 : (this.values[slot] as number);
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
        const slot = this.slotByKey.get(c.key);
        const before = slot === undefined ? 0 : (this.values[slot] as number);
        const tat = before < now ? now : before;
        const next = tat + c.cost * interval;
        if (next - c.periodMs > now) return null;
        this.undone[at] = before;
        this.values[slot ?? this.bind(c.key, 'rate')] = next;
        return { remaining: Math.floor((c.periodMs - (next - now)) / interval), resetMs: next - now, retryMs: 0 };
      }
      case 'concurrent': {
        const found = this.slotByKey.get(c.key);
        const held = found === undefined ? 0 : (this.values[found] as number);
        if (held >= c.max) return null;
        this.values[found ?? this.bind(c.key, 'concurrent')] = held + 1;
        return { remaining: c.max - held - 1, resetMs: 0, retryMs: 0 };
      }
      case 'budget': {
        const found = this.slotByKey.get(c.key);
        const used = found === undefined ? 0 : (this.values[found] as number);
        if (used >= c.cap) return null;
        const slot = found ?? this.bind(c.key, 'budget', c.endMs);
        this.values[slot] = Math.max(0, used + c.cost);
        return { remaining: Math.max(0, c.cap - used - c.cost), resetMs: c.endMs - now, retryMs: 0 };
      }
    }
  }

  /** Undoes take(c, now, at) (a later meter of the same request refused). */
  private giveBack(c: StoreCheck, at: number): void {
    const slot = this.slotByKey.get(c.key);
    if (slot === undefined) return;
    if (c.kind === 'rate') this.values[slot] = this.undone[at] as number;
    else if (c.kind === 'concurrent') this.release(slot);
    else this.correctBudget(slot, -c.cost);
  }

  settle(settles: readonly StoreSettle[]): void {
    const now = this.now();
    for (const s of settles) {
      const slot = this.slotByKey.get(s.key);
      if (s.kind === 'rate') {
        if (slot !== undefined) this.correctRate(slot, (s.delta * s.periodMs) / s.limit, now);
      } else if (s.kind === 'concurrent') {
        if (slot !== undefined) this.release(slot);
      } else if (slot !== undefined) this.correctBudget(slot, s.delta);
      else this.values[this.bind(s.key, 'budget', s.endMs)] = Math.max(0, s.delta);
    }
  }

  private sweep(): void {
    const now = this.now();
    let freed = false;
    for (let slot = 0; slot < this.keys.length; slot++) {
      const key = this.keys[slot];
      if (key === null || key === undefined) continue;
      const kind = this.kinds[slot];
      const done = kind === BUDGET ? (this.expires[slot] as number) <= now : (this.values[slot] as number) <= (kind === RATE ? now : 0);
      if (!done) continue;
      this.slotByKey.delete(key);
      this.keys[slot] = null;
      this.free.push(slot);
      freed = true;
    }
    if (freed) this.generation++;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
