// Shares a gateway borrows from Redis for its busy buckets, and admits requests from without a
// script call. A share is units already taken in Redis (a rate bucket's arrival time moved, a
// budget counter raised) or concurrency leases already added there, so the fleet never admits more
// than the limit on its account: what a gateway has not used goes back when the share ends. Shares
// are lent only far from the limit (the script grants one only while the bucket stays at least half
// free after it, and one is at most 1/SHARE_OF_LIMIT of the limit), so near the limit every request
// is decided in Redis, one by one, as without shares; and only to a bucket that is busy (two of its
// requests in one turn of the event loop, or a share of its own lately), so a trickle of requests
// never strands units in a gateway. docs/limits.md has what this costs in accuracy.
import type { CheckResult, CheckState, StoreCheck, StoreSettle } from './store.ts';

/** A share lives this long; what is left of it then goes back to Redis. */
export const SHARE_MS = 500;
/** A share is at most this part of its limit (a rate's limit, a budget's cap, a concurrency max). */
export const SHARE_OF_LIMIT = 64;

/** What a settlement or a share's end sends to Redis: a StoreSettle, or a borrowed lease released by name. */
export type Giveback = StoreSettle | { kind: 'release'; key: string; member: string };

/** A share asked for in a script call: rate and budget in units, concurrency in leases named base + 1..amount. */
export interface Borrow {
  bucket: Bucket;
  amount: number;
  /** The terms the share is asked under: a rate's limit, a budget's cap, a concurrency max. */
  limit: number;
  /** A rate's period, a budget's period end, a lease's lifetime. */
  term: number;
  /** Concurrency: the names of the leases, with their number appended. */
  base: string;
}

/** One bucket's share and what sizes the next one. */
export class Bucket {
  /** Until when the share may be used (local clock); 0 when there is none. */
  until = 0;
  /** The share's terms: a request under other terms (a new bundle) goes to Redis. */
  limit = 0;
  term = 0;
  /** Units of the share not used yet (rate, budget). */
  left = 0;
  /** Leases of the share not in use (concurrency), and those in use by lease number. */
  free: string[] = [];
  readonly inUse = new Map<number, string>();
  /** The leases of the current share are named base + n; one of an older share goes back when released. */
  base = '';
  /** The fleet's remaining when the share was granted, and when the bucket is full again (for headers). */
  remaining = 0;
  resetAt = 0;
  /** A share asked for and not answered yet. */
  asking = false;
  grantedAt = Number.NEGATIVE_INFINITY;
  /** Units admitted since the last share, here and in Redis. */
  consumed = 0;
  /** This turn's requests sent to Redis, and their units. */
  turnRequests = 0;
  turnUnits = 0;
  lastSeen = 0;

  constructor(
    readonly kind: StoreCheck['kind'],
    readonly key: string,
  ) {}

  /** Whether the share can admit c now (its terms, what is left). */
  fits(c: StoreCheck, now: number): boolean {
    if (now >= this.until) return false;
    switch (c.kind) {
      case 'rate':
        return c.limit === this.limit && c.periodMs === this.term && this.left >= c.cost;
      case 'budget':
        return c.cap === this.limit && c.endMs === this.term && this.left >= c.cost;
      case 'concurrent':
        return c.max === this.limit && this.free.length > 0;
    }
  }

  /** Takes c from the share (fits() said it can) and says what the fleet has left, as far as this gateway knows. */
  take(c: StoreCheck, now: number): CheckState {
    this.lastSeen = now;
    if (c.kind === 'concurrent') {
      this.inUse.set(c.lease, this.free.pop() as string);
      this.consumed++;
      return { remaining: this.remaining + this.free.length, resetMs: 0, retryMs: 0 };
    }
    this.left -= c.cost;
    this.consumed += c.cost;
    const resetMs = c.kind === 'rate' ? Math.max(0, Math.ceil(this.resetAt - now)) : Math.max(0, c.endMs - now);
    return { remaining: Math.max(0, Math.floor(this.remaining + this.left)), resetMs, retryMs: 0 };
  }
}

export class Shares {
  private readonly buckets = new Map<string, Bucket>();
  /** Buckets with requests in this turn's call. */
  private touched: Bucket[] = [];
  private borrowed = 0;
  /** The store is closing: a share granted now goes back at once. */
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    /** The store's name in the fleet: borrowed leases are `${prefix}:s<share>:<n>`. */
    private readonly prefix: string,
    /** Sends what goes back to Redis (a share's end, a release under an ended share). */
    private readonly giveBack: (items: Giveback[]) => void,
    /** How long a share lives (SHARE_MS but in tests). */
    private readonly shareMs = SHARE_MS,
    private readonly now: () => number = Date.now,
  ) {
    // A share is never used past its life (fits()); the sweeper gives back what is left of it within a fifth of a life more.
    this.sweeper = setInterval(() => this.sweep(this.now()), shareMs / 5);
    this.sweeper.unref();
  }

  /** The request admitted on this gateway's shares, every meter or none; null when one cannot (nothing taken). */
  admit(checks: readonly StoreCheck[]): CheckResult | null {
    if (checks.length === 0) return null;
    const now = this.now();
    for (const c of checks) {
      const bucket = this.buckets.get(c.key);
      if (bucket === undefined || !bucket.fits(c, now)) return null;
    }
    const states: CheckState[] = new Array(checks.length);
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i] as StoreCheck;
      states[i] = (this.buckets.get(c.key) as Bucket).take(c, now);
    }
    return { ok: true, states };
  }

  /** A request on its way to Redis: its buckets may ask for a share in the same call. */
  sent(checks: readonly StoreCheck[]): void {
    const now = this.now();
    for (const c of checks) {
      let bucket = this.buckets.get(c.key);
      if (bucket === undefined) this.buckets.set(c.key, (bucket = new Bucket(c.kind, c.key)));
      if (bucket.turnRequests === 0) this.touched.push(bucket);
      const units = c.kind === 'concurrent' ? 1 : c.cost;
      bucket.turnRequests++;
      bucket.turnUnits += units;
      bucket.consumed += units;
      bucket.lastSeen = now;
    }
  }

  /**
   * The shares to ask for in the call that carries this turn's requests: for each busy bucket
   * that holds no share question in flight. Resets the turn. checks are the turn's, to read terms.
   */
  borrows(checks: readonly (readonly StoreCheck[])[]): Borrow[] {
    const now = this.now();
    const out: Borrow[] = [];
    const wanted = new Set<Bucket>();
    for (const bucket of this.touched) {
      const busy = bucket.turnRequests >= 2 || now - bucket.grantedAt < 2 * this.shareMs;
      if (busy && !bucket.asking) wanted.add(bucket);
    }
    if (wanted.size > 0) {
      for (const request of checks) {
        for (const c of request) {
          const bucket = this.buckets.get(c.key) as Bucket;
          if (!wanted.delete(bucket)) continue;
          const borrow = this.sized(bucket, c);
          if (borrow !== null) {
            bucket.asking = true;
            out.push(borrow);
          }
        }
      }
    }
    for (const bucket of this.touched) {
      bucket.turnRequests = 0;
      bucket.turnUnits = 0;
    }
    this.touched = [];
    return out;
  }

  /**
   * A share big enough for twice what the bucket took since its last share (or in this turn), at
   * most 1/SHARE_OF_LIMIT of its limit; concurrency: twice the leases in use and asked for.
   */
  private sized(bucket: Bucket, c: StoreCheck): Borrow | null {
    switch (c.kind) {
      case 'rate':
      case 'budget': {
        const limit = c.kind === 'rate' ? c.limit : c.cap;
        const amount = Math.min(Math.floor(limit / SHARE_OF_LIMIT), 2 * Math.max(bucket.turnUnits, bucket.consumed));
        if (amount <= 0 || amount < c.cost) return null;
        return { bucket, amount, limit, term: c.kind === 'rate' ? c.periodMs : c.endMs, base: '' };
      }
      case 'concurrent': {
        const amount = Math.min(Math.floor(c.max / SHARE_OF_LIMIT), 2 * (bucket.inUse.size + bucket.turnRequests));
        if (amount <= 0) return null;
        return { bucket, amount, limit: c.max, term: c.ttlMs, base: `${this.prefix}:s${++this.borrowed}:` };
      }
    }
  }

  /** Redis's answer to a borrow: granted units (or leases), and the fleet's remaining and reset after it. */
  granted(borrow: Borrow, granted: number, remaining: number, resetMs: number): void {
    const bucket = borrow.bucket;
    bucket.asking = false;
    if (granted <= 0) return;
    if (this.closed) return this.giveBack(givebackOf(borrow, granted));
    const now = this.now();
    // What is left of the share before goes back: no unit is used later than a share's life after
    // it was taken, and a bucket never holds more than one share (at most 1/SHARE_OF_LIMIT).
    this.end(bucket);
    bucket.limit = borrow.limit;
    bucket.term = borrow.term;
    if (bucket.kind === 'concurrent') {
      bucket.base = borrow.base;
      for (let n = 1; n <= granted; n++) bucket.free.push(`${borrow.base}${n}`);
    } else bucket.left = granted;
    bucket.until = now + this.shareMs;
    bucket.grantedAt = now;
    bucket.consumed = 0;
    bucket.remaining = remaining;
    bucket.resetAt = now + resetMs;
    bucket.lastSeen = now;
  }

  /**
   * A call that asked for shares failed. It may still have run (a Redis slower than the timeout):
   * the leases it may have added are released by name (removing an absent one does nothing).
   * Units it may have taken cannot be told from units it did not take, so they stay taken.
   */
  failed(borrows: readonly Borrow[]): void {
    const items: Giveback[] = [];
    for (const b of borrows) {
      b.bucket.asking = false;
      if (b.bucket.kind === 'concurrent') items.push(...givebackOf(b, b.amount));
    }
    if (items.length > 0) this.giveBack(items);
  }

  /** Settlements this gateway's shares absorb; what remains for Redis. */
  settle(settles: readonly StoreSettle[]): Giveback[] {
    const now = this.now();
    const out: Giveback[] = [];
    for (const s of settles) {
      const bucket = this.buckets.get(s.key);
      if (bucket === undefined) {
        out.push(s);
        continue;
      }
      if (s.kind === 'concurrent') {
        const member = bucket.inUse.get(s.lease);
        if (member === undefined) out.push(s);
        else {
          bucket.inUse.delete(s.lease);
          if (now < bucket.until && member.startsWith(bucket.base)) bucket.free.push(member);
          else out.push({ kind: 'release', key: s.key, member });
        }
        continue;
      }
      const same = s.kind === 'rate' ? s.limit === bucket.limit && s.periodMs === bucket.term : s.endMs === bucket.term;
      if (!(now < bucket.until && same)) out.push(s);
      // Taken from the share when it has enough.
      else if (s.delta > 0) {
        if (bucket.left >= s.delta) bucket.left -= s.delta;
        else out.push(s);
      } else if (s.kind === 'budget') bucket.left -= s.delta;
      // Given back to a rate share only as far as Redis would take it back: there the arrival time
      // moves back never before now, and it was resetMs ahead of now when the share was lent (the
      // share included). What Redis would not take back is dropped, as Redis would drop it.
      else bucket.left = Math.max(bucket.left, Math.min(bucket.left - s.delta, Math.floor(((bucket.resetAt - now) * bucket.limit) / bucket.term)));
    }
    return out;
  }

  /** Ends every share and releases every borrowed lease, in use or not (the store is closing). */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const bucket of this.buckets.values()) {
      this.end(bucket);
      const items: Giveback[] = [];
      for (const member of bucket.inUse.values()) items.push({ kind: 'release', key: bucket.key, member });
      bucket.inUse.clear();
      if (items.length > 0) this.giveBack(items);
    }
    this.buckets.clear();
  }

  /** Ends shares whose time is over, and forgets idle buckets. */
  private sweep(now: number): void {
    for (const bucket of this.buckets.values()) {
      if (bucket.until !== 0 && now >= bucket.until) this.end(bucket);
      // A bucket's local state goes after ten shares' lives with no share and no request in flight.
      if (bucket.until === 0 && !bucket.asking && bucket.inUse.size === 0 && now - bucket.lastSeen > 10 * this.shareMs) this.buckets.delete(bucket.key);
    }
  }

  /** What is left of a bucket's share goes back to Redis. */
  private end(bucket: Bucket): void {
    const items: Giveback[] = [];
    if (bucket.kind === 'concurrent') {
      for (const member of bucket.free) items.push({ kind: 'release', key: bucket.key, member });
      bucket.free = [];
    } else if (bucket.left > 0) {
      items.push(
        bucket.kind === 'rate'
          ? { kind: 'rate', key: bucket.key, limit: bucket.limit, periodMs: bucket.term, delta: -bucket.left }
          : { kind: 'budget', key: bucket.key, delta: -bucket.left, endMs: bucket.term },
      );
    }
    bucket.left = 0;
    bucket.until = 0;
    if (items.length > 0) this.giveBack(items);
  }
}

/** What goes back to Redis for granted units or leases of a borrow. */
function givebackOf(b: Borrow, granted: number): Giveback[] {
  const key = b.bucket.key;
  switch (b.bucket.kind) {
    case 'rate':
      return [{ kind: 'rate', key, limit: b.limit, periodMs: b.term, delta: -granted }];
    case 'budget':
      return [{ kind: 'budget', key, delta: -granted, endMs: b.term }];
    case 'concurrent':
      return Array.from({ length: granted }, (_, i) => ({ kind: 'release', key, member: `${b.base}${i + 1}` }) as const);
  }
}
