// Admission against the request's limits (the pipeline's limits step) and the settlement when the
// request ends: one store call to check and take every meter, all or nothing; afterwards the
// token reservation is corrected by the provider's reported usage and the concurrency lease freed.
import type { BundlePricing } from '../../schemas/types.generated.ts';
import { periodAt } from './calendar.ts';
import { rateLimitHeaders } from './headers.ts';
import type { AppliedLimit, LimitIndex } from './limit-index.ts';
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

/** The meters of a set of applied limits, flattened once (the sets are cached per principal and model: limit-index.ts). */
interface MeterPlan {
  meters: Meter[];
  owners: AppliedLimit[];
  keys: string[];
  /** Per meter: a budget's key in the period it was last asked for (its label appended), made once per period. */
  periodKeys: ({ key: string; startMs: number; endMs: number } | undefined)[];
  concurrent: boolean;
}

function planOf(applied: readonly AppliedLimit[]): MeterPlan {
  const plan: MeterPlan = { meters: [], owners: [], keys: [], periodKeys: [], concurrent: false };
  for (const a of applied) {
    const all = a.limit.meters;
    for (let m = 0; m < all.length; m++) {
      const meter = all[m] as Meter;
      plan.meters.push(meter);
      plan.owners.push(a);
      plan.keys.push(a.keys[m] as string);
      plan.periodKeys.push(undefined);
      if (meter.kind === 'concurrent') plan.concurrent = true;
    }
  }
  return plan;
}

export class Limiter {
  /** The last concurrency lease handed out (a number: no string is built or hashed per request). */
  private leases = 0;
  /** Plans by applied set: the cached sets are the same arrays request after request. */
  private readonly plans = new WeakMap<readonly AppliedLimit[], MeterPlan>();

  constructor(private readonly options: LimiterOptions) {}

  /** Checks the request against applied (non-empty) and takes from its meters. */
  admit(applied: readonly AppliedLimit[], index: LimitIndex, model: number, reservation: Reservation): LimitOutcome | Promise<LimitOutcome> {
    const now = this.options.now();
    const pricing = index.pricing[model];
    let plan = this.plans.get(applied);
    if (plan === undefined) this.plans.set(applied, (plan = planOf(applied)));
    const { meters, owners } = plan;
    const checks: StoreCheck[] = new Array(meters.length);
    const lease = plan.concurrent ? ++this.leases : 0;
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

  private failed(error: unknown): LimitOutcome {
    const policy = this.options.onStoreError;
    this.options.events.storeError('check', error instanceof Error ? error : new Error(String(error)), policy);
    return policy === 'allow' ? UNLIMITED : UNAVAILABLE;
  }

  private decide(result: CheckResult, meters: Meter[], owners: AppliedLimit[], checks: StoreCheck[], pricing: BundlePricing | undefined): LimitOutcome {
    const headers = rateLimitHeaders(meters, result.states);
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
      // The calendar is asked only when the period the plan holds is over (or not yet begun).
      let periodKey = plan.periodKeys[m];
      if (periodKey === undefined || now >= periodKey.endMs || now < periodKey.startMs) {
        const period = periodAt(now, meter.period, meter.timeZone);
        plan.periodKeys[m] = periodKey = { key: `${key}|${period.label}`, startMs: period.startMs, endMs: period.endMs };
      }
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

class Ticket implements LimitTicket {
  constructor(
    private readonly options: LimiterOptions,
    private readonly meters: Meter[],
    private readonly checks: StoreCheck[],
    private readonly pricing: BundlePricing | undefined,
  ) {}

  settle(ended: EndedRequest): void {
    // Reported usage replaces the reservation; no answer at all gives it back (nothing used); an
    // answer without usage (a stream cut short) keeps it (known is false).
    const usage = ended.usage;
    const known = usage !== null || ended.upstreamMs === null;
    const input = usage === null ? 0 : usage.prompt_tokens;
    const output = usage === null ? 0 : usage.completion_tokens;
    const cached = usage === null ? 0 : (usage.cached_tokens ?? 0);
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
