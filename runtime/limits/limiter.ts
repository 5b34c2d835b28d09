// Admission against the request's limits (the pipeline's limits step) and the settlement when the
// request ends: one store call to check and take every meter, all or nothing; afterwards the
// token reservation is corrected by the provider's reported usage and the concurrency lease freed.
import type { BundlePricing } from '../../schemas/types.generated.ts';
import { periodAt } from './calendar.ts';
import { rateLimitHeaders } from './headers.ts';
import type { AppliedLimit, LimitIndex } from './limit-index.ts';
import { type BoundMeters, MemoryStore } from './memory-store.ts';
import type { LimitReason, Meter } from './meters.ts';
import type { Reservation } from './reservation.ts';
import type { CheckResult, LimitStore, StoreCheck, StoreSettle } from './store.ts';

/** What a store failure does to a request: admit it unlimited, or refuse it (503). */
export type StoreErrorPolicy = 'allow' | 'deny';

// A store's round trips and failed settlements are its own events (redis-store.ts): it batches
// requests into calls, so only it knows a call's latency, once per call.
export interface LimiterEvents {
  /** A store call failed; policy says what the request got (null for a settle that threw). */
  storeError(op: 'check' | 'settle', error: Error, policy: StoreErrorPolicy | null): void;
  refused(reason: LimitReason): void;
}

export interface LimiterOptions {
  store: LimitStore;
  onStoreError: StoreErrorPolicy;
  /** How long a concurrency lease lives when its gateway never releases it (a crash). */
  leaseTtlMs: number;
  events: LimiterEvents;
  now: () => number;
}

/** The request's measure, as settle() reads it from the audit record. */
export interface EndedRequest {
  usage: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number } | null;
  /** null when the provider never answered (nothing was used: the reservation is given back). */
  upstreamMs: number | null;
}

/** Held by an admitted request until it ends. */
export interface LimitTicket {
  settle(ended: EndedRequest): void;
}

export type LimitOutcome =
  | { ok: true; headers: Record<string, string> | null; ticket: LimitTicket | null }
  | { ok: false; limit: { id: string; reason: LimitReason }; budget: boolean; retryMs: number; headers: Record<string, string> | null }
  | { ok: false; limit: null };

const UNLIMITED: LimitOutcome = Object.freeze({ ok: true, headers: null, ticket: null });
const UNAVAILABLE: LimitOutcome = Object.freeze({ ok: false, limit: null });

type PeriodKey = { key: string; startMs: number; endMs: number };

/**
 * The meters of a set of applied limits, flattened once (the sets are cached per principal and
 * model: limit-index.ts), and with the memory store, bound to its slots (BoundMeters).
 */
interface MeterPlan extends BoundMeters {
  meters: Meter[];
  owners: AppliedLimit[];
  keys: string[];
  /**
   * Per meter: a budget's key in the period it was last asked for (its label appended), made once
   * per period. Replaced, never changed in place: a ticket keeps the one its request counted in.
   */
  periodKeys: (PeriodKey | undefined)[];
  concurrent: boolean;
  /** The memory store's generation the slots were bound at (-1: never). Slots too are replaced, not changed. */
  bound: number;
  slots: Int32Array;
}

function planOf(applied: readonly AppliedLimit[]): MeterPlan {
  const meters: Meter[] = [];
  const owners: AppliedLimit[] = [];
  const keys: string[] = [];
  let concurrent = false;
  for (const a of applied) {
    const all = a.limit.meters;
    for (let m = 0; m < all.length; m++) {
      const meter = all[m] as Meter;
      meters.push(meter);
      owners.push(a);
      keys.push(a.keys[m] as string);
      if (meter.kind === 'concurrent') concurrent = true;
    }
  }
  const n = meters.length;
  return {
    meters,
    owners,
    keys,
    periodKeys: new Array(n).fill(undefined),
    concurrent,
    bound: -1,
    slots: new Int32Array(n),
    costs: new Float64Array(n),
    remaining: new Float64Array(n),
    resetMs: new Float64Array(n),
  };
}

/** The budget meter m's key in the period holding now (the calendar asked only when the plan's period is over). */
function periodKeyOf(plan: MeterPlan, m: number, meter: Extract<Meter, { kind: 'budget' }>, now: number): PeriodKey {
  const held = plan.periodKeys[m];
  if (held !== undefined && now < held.endMs && now >= held.startMs) return held;
  const period = periodAt(now, meter.period, meter.timeZone);
  const made = { key: `${plan.keys[m] as string}|${period.label}`, startMs: period.startMs, endMs: period.endMs };
  const periodKeys = plan.periodKeys.slice();
  periodKeys[m] = made;
  plan.periodKeys = periodKeys;
  return made;
}

export class Limiter {
  /** The last concurrency lease handed out (a number: no string is built or hashed per request). */
  private leases = 0;
  /** Plans by applied set: the cached sets are the same arrays request after request. */
  private readonly plans = new WeakMap<readonly AppliedLimit[], MeterPlan>();
  /** The store when it is this process's memory: requests are then admitted on their plan's slots. */
  private readonly memory: MemoryStore | null;

  constructor(private readonly options: LimiterOptions) {
    this.memory = options.store instanceof MemoryStore ? options.store : null;
  }

  /** Checks the request against applied (non-empty) and takes from its meters. */
  admit(applied: readonly AppliedLimit[], index: LimitIndex, model: number, reservation: Reservation): LimitOutcome | Promise<LimitOutcome> {
    const now = this.options.now();
    const pricing = index.pricing[model];
    let plan = this.plans.get(applied);
    if (plan === undefined) this.plans.set(applied, (plan = planOf(applied)));
    const { meters, owners } = plan;
    const lease = plan.concurrent ? ++this.leases : 0;
    if (this.memory !== null) {
      const admitted = this.admitInMemory(this.memory, plan, reservation, pricing, lease, now);
      // Not admitted: the store's check below finds which meter refuses, and what each has left.
      if (admitted !== null) return admitted;
    }
    const checks: StoreCheck[] = new Array(meters.length);
    for (let m = 0; m < meters.length; m++) checks[m] = checkOf(plan, m, reservation, pricing, lease, this.options.leaseTtlMs, now);
    let result: CheckResult | Promise<CheckResult>;
    try {
      result = this.options.store.check(checks);
    } catch (error) {
      return this.failed(error);
    }
    if (result instanceof Promise) {
      return result.then(
        (r) => this.decide(r, meters, owners, checks, pricing),
        (error) => this.failed(error),
      );
    }
    return this.decide(result, meters, owners, checks, pricing);
  }

  /** Admits the request on its plan's slots in the memory store, or null when a meter refuses (nothing taken). */
  private admitInMemory(
    memory: MemoryStore,
    plan: MeterPlan,
    r: Reservation,
    pricing: BundlePricing | undefined,
    lease: number,
    now: number,
  ): LimitOutcome | null {
    const { meters, costs } = plan;
    let rebind = plan.bound !== memory.generation;
    for (let m = 0; m < meters.length; m++) {
      const meter = meters[m] as Meter;
      if (meter.kind === 'rate') costs[m] = costOf(meter.quantity, r.input, r.output);
      else if (meter.kind === 'budget') {
        const before = plan.periodKeys[m];
        if (periodKeyOf(plan, m, meter, now) !== before) rebind = true;
        costs[m] = meter.unit === 'tokens' ? r.input + r.output : micros(pricing, r.input, r.output);
      }
    }
    if (rebind) {
      const slots = new Int32Array(meters.length);
      for (let m = 0; m < meters.length; m++) {
        const meter = meters[m] as Meter;
        const period = meter.kind === 'budget' ? (plan.periodKeys[m] as PeriodKey) : undefined;
        slots[m] = memory.bind(period === undefined ? (plan.keys[m] as string) : period.key, meter.kind, period?.endMs);
      }
      plan.slots = slots;
      plan.bound = memory.generation;
    }
    if (!memory.takeBound(plan, now)) return null;
    return {
      ok: true,
      headers: rateLimitHeaders(meters, plan.remaining, plan.resetMs),
      ticket: new MemoryTicket(memory, plan, plan.slots, plan.periodKeys, plan.bound, r, lease, pricing),
    };
  }

  private failed(error: unknown): LimitOutcome {
    const policy = this.options.onStoreError;
    this.options.events.storeError('check', error instanceof Error ? error : new Error(String(error)), policy);
    return policy === 'allow' ? UNLIMITED : UNAVAILABLE;
  }

  private decide(result: CheckResult, meters: Meter[], owners: AppliedLimit[], checks: StoreCheck[], pricing: BundlePricing | undefined): LimitOutcome {
    const headers = rateLimitHeaders(
      meters,
      result.states.map((s) => s.remaining),
      result.states.map((s) => s.resetMs),
    );
    if (!result.ok) {
      // The meter that keeps the request out longest names the refusal: retrying after its wait is enough.
      let worst = -1;
      for (let i = 0; i < result.states.length; i++) {
        const state = result.states[i] as CheckResult['states'][number];
        if (state.retryMs > 0 && (worst < 0 || state.retryMs > (result.states[worst] as CheckResult['states'][number]).retryMs)) worst = i;
      }
      const meter = meters[worst] as Meter;
      this.options.events.refused(meter.reason);
      return {
        ok: false,
        limit: { id: (owners[worst] as AppliedLimit).limit.id, reason: meter.reason },
        budget: meter.kind === 'budget',
        retryMs: (result.states[worst] as CheckResult['states'][number]).retryMs,
        headers,
      };
    }
    return { ok: true, headers, ticket: new Ticket(this.options, meters, checks, pricing) };
  }
}

function checkOf(plan: MeterPlan, m: number, r: Reservation, pricing: BundlePricing | undefined, lease: number, leaseTtlMs: number, now: number): StoreCheck {
  const meter = plan.meters[m] as Meter;
  const key = plan.keys[m] as string;
  switch (meter.kind) {
    case 'rate':
      return { kind: 'rate', key, limit: meter.limit, periodMs: meter.periodMs, cost: costOf(meter.quantity, r.input, r.output) };
    case 'concurrent':
      return { kind: 'concurrent', key, max: meter.max, lease, ttlMs: leaseTtlMs };
    case 'budget': {
      const periodKey = periodKeyOf(plan, m, meter, now);
      const cost = meter.unit === 'tokens' ? r.input + r.output : micros(pricing, r.input, r.output);
      return { kind: 'budget', key: periodKey.key, cap: meter.cap, cost, endMs: periodKey.endMs };
    }
  }
}

function costOf(quantity: 'requests' | 'tokens' | 'input' | 'output', input: number, output: number): number {
  if (quantity === 'requests') return 1;
  if (quantity === 'tokens') return input + output;
  return quantity === 'input' ? input : output;
}

/**
 * Money in millionths of the currency, rounded up (a budget is never undercharged). cached of the
 * input tokens were read from the provider's prompt cache: they cost cached_input_per_1m when the
 * provider file gives it (input_per_1m otherwise). A reservation knows of no cache: it is charged
 * at the full input price and corrected when the usage comes.
 */
function micros(pricing: BundlePricing | undefined, input: number, output: number, cached = 0): number {
  if (pricing === undefined) return 0;
  // input_per_1m is the price of a million tokens: one token costs input_per_1m millionths.
  const fromCache = Math.min(cached, input);
  const cachedPrice = pricing.cached_input_per_1m ?? pricing.input_per_1m;
  return Math.ceil((input - fromCache) * pricing.input_per_1m + fromCache * cachedPrice + output * pricing.output_per_1m);
}

interface Used {
  /** false: the answer came without usage (a stream cut short): the reservation is kept. */
  known: boolean;
  input: number;
  output: number;
  cached: number;
}
const NOTHING_USED: Used = Object.freeze({ known: true, input: 0, output: 0, cached: 0 });
const USE_UNKNOWN: Used = Object.freeze({ known: false, input: 0, output: 0, cached: 0 });

/** Reported usage replaces the reservation; no answer at all gives it back (nothing used). */
function usedBy(ended: EndedRequest): Used {
  const usage = ended.usage;
  if (usage === null) return ended.upstreamMs === null ? NOTHING_USED : USE_UNKNOWN;
  return { known: true, input: usage.prompt_tokens, output: usage.completion_tokens, cached: usage.cached_tokens ?? 0 };
}

class Ticket implements LimitTicket {
  constructor(
    private readonly options: LimiterOptions,
    private readonly meters: Meter[],
    private readonly checks: StoreCheck[],
    private readonly pricing: BundlePricing | undefined,
  ) {}

  settle(ended: EndedRequest): void {
    const { known, input, output, cached } = usedBy(ended);
    const settles: StoreSettle[] = [];
    for (let i = 0; i < this.checks.length; i++) {
      const check = this.checks[i] as StoreCheck;
      const meter = this.meters[i] as Meter;
      if (check.kind === 'concurrent') {
        settles.push({ kind: 'concurrent', key: check.key, lease: check.lease });
        continue;
      }
      if (!known) continue;
      if (check.kind === 'rate' && meter.kind === 'rate') {
        const delta = costOf(meter.quantity, input, output) - check.cost;
        if (delta !== 0 && meter.quantity !== 'requests') settles.push({ kind: 'rate', key: check.key, limit: check.limit, periodMs: check.periodMs, delta });
      } else if (check.kind === 'budget' && meter.kind === 'budget') {
        const real = meter.unit === 'tokens' ? input + output : micros(this.pricing, input, output, cached);
        if (real !== check.cost) settles.push({ kind: 'budget', key: check.key, delta: real - check.cost, endMs: check.endMs });
      }
    }
    if (settles.length === 0) return;
    try {
      // Nobody waits for a settlement: a failed call is the store's to report (onSettleError).
      void this.options.store.settle(settles);
    } catch (error) {
      this.options.events.storeError('settle', error instanceof Error ? error : new Error(String(error)), null);
    }
  }
}

/**
 * A ticket of a request admitted on its plan's slots in the memory store: corrects those slots,
 * or, when the store's sweeper has freed slots since (one may hold another bucket now), the same
 * buckets by key.
 */
class MemoryTicket implements LimitTicket {
  constructor(
    private readonly memory: MemoryStore,
    private readonly plan: MeterPlan,
    private readonly slots: Int32Array,
    private readonly periodKeys: readonly (PeriodKey | undefined)[],
    private readonly generation: number,
    private readonly reserved: Reservation,
    private readonly lease: number,
    private readonly pricing: BundlePricing | undefined,
  ) {}

  settle(ended: EndedRequest): void {
    const { known, input, output, cached } = usedBy(ended);
    const { input: rIn, output: rOut } = this.reserved;
    const { meters, keys } = this.plan;
    const memory = this.memory;
    const bound = memory.generation === this.generation;
    const byKey: StoreSettle[] = [];
    let now = 0;
    for (let m = 0; m < meters.length; m++) {
      const meter = meters[m] as Meter;
      const slot = this.slots[m] as number;
      if (meter.kind === 'concurrent') {
        if (bound) memory.release(slot);
        else byKey.push({ kind: 'concurrent', key: keys[m] as string, lease: this.lease });
        continue;
      }
      if (!known) continue;
      if (meter.kind === 'rate') {
        const delta = costOf(meter.quantity, input, output) - costOf(meter.quantity, rIn, rOut);
        if (delta === 0 || meter.quantity === 'requests') continue;
        if (!bound) byKey.push({ kind: 'rate', key: keys[m] as string, limit: meter.limit, periodMs: meter.periodMs, delta });
        else {
          if (now === 0) now = memory.time();
          memory.correctRate(slot, (delta * meter.periodMs) / meter.limit, now);
        }
      } else {
        const reserved = meter.unit === 'tokens' ? rIn + rOut : micros(this.pricing, rIn, rOut);
        const real = meter.unit === 'tokens' ? input + output : micros(this.pricing, input, output, cached);
        if (real === reserved) continue;
        const period = this.periodKeys[m] as PeriodKey;
        if (bound) memory.correctBudget(slot, real - reserved);
        else byKey.push({ kind: 'budget', key: period.key, delta: real - reserved, endMs: period.endMs });
      }
    }
    if (byKey.length > 0) memory.settle(byKey);
  }
}
