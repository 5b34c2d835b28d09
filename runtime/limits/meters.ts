// A bundle limit as the runtime checks it: one meter per quantity it bounds (requests or tokens
// per period, requests at once, a calendar budget), with the amounts in the store's units.
import type { AuditLine, BundleLimit } from '../../schemas/types.generated.ts';

/** Which field of the limit a meter comes from: the reason a refusal names (the audit line's limit.reason). */
export type LimitReason = NonNullable<AuditLine['limit']>['reason'];

/** What one request costs a meter: a request, its tokens (input + output), input or output tokens. */
export type Quantity = 'requests' | 'tokens' | 'input' | 'output';

export type Meter =
  | {
      kind: 'rate';
      reason: LimitReason;
      quantity: Quantity;
      limit: number;
      /** limit as its x-ratelimit-limit-* header writes it, made once. */
      limitText: string;
      periodMs: number;
    }
  | { kind: 'concurrent'; reason: 'concurrent'; max: number }
  | {
      kind: 'budget';
      reason: 'budget';
      /** tokens: input + output tokens; money: millionths of the currency (integers in the store). */
      unit: 'tokens' | 'money';
      cap: number;
      period: 'day' | 'month';
      timeZone: string;
    };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const RATES: ReadonlyArray<readonly [LimitReason & keyof BundleLimit, Quantity, number]> = [
  ['requests_per_minute', 'requests', MINUTE],
  ['requests_per_hour', 'requests', HOUR],
  ['requests_per_day', 'requests', DAY],
  ['tokens_per_minute', 'tokens', MINUTE],
  ['tokens_per_day', 'tokens', DAY],
  ['input_tokens_per_minute', 'input', MINUTE],
  ['output_tokens_per_minute', 'output', MINUTE],
  ['input_tokens_per_day', 'input', DAY],
  ['output_tokens_per_day', 'output', DAY],
];

/** Money in the store: integer millionths, so that counters stay exact integers (INCRBY). */
export const MICROS = 1_000_000;

/** The meters of a limit, in the order of its fields. */
export function metersOf(limit: BundleLimit): Meter[] {
  const meters: Meter[] = [];
  for (const [field, quantity, periodMs] of RATES) {
    const value = limit[field];
    if (typeof value === 'number') meters.push({ kind: 'rate', reason: field, quantity, limit: value, limitText: String(value), periodMs });
  }
  if (limit.concurrent !== undefined) meters.push({ kind: 'concurrent', reason: 'concurrent', max: limit.concurrent });
  const budget = limit.budget;
  if (budget !== undefined) {
    const money = budget.amount !== undefined;
    meters.push({
      kind: 'budget',
      reason: 'budget',
      unit: money ? 'money' : 'tokens',
      cap: money ? Math.round((budget.amount as number) * MICROS) : (budget.tokens as number),
      period: budget.period,
      timeZone: budget.time_zone ?? 'UTC',
    });
  }
  return meters;
}
