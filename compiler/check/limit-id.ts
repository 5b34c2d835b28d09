// A limit's stable id: its `id:` when the policy gives one, else a short hash of its content.
// The runtime keys its counters by this id, so it must not move when lines move; when the content
// changes (other models, subjects or values) the counters start afresh, which is what a new limit means.
import { createHash } from 'node:crypto';
import type { LimitRule } from '../../schemas/types.generated.ts';

/** The numeric caps a limit may set, in the order they are shown (plan, explain, the bundle). */
export const LIMIT_FIELDS = [
  'requests_per_minute',
  'requests_per_hour',
  'requests_per_day',
  'tokens_per_minute',
  'tokens_per_day',
  'input_tokens_per_minute',
  'output_tokens_per_minute',
  'concurrent',
] as const;

export type LimitField = (typeof LIMIT_FIELDS)[number];
export type LimitValues = Partial<Record<LimitField, number>>;

/** The caps a limit sets, in LIMIT_FIELDS order. */
export function limitValues(limit: LimitRule): LimitValues {
  const values: LimitValues = {};
  for (const field of LIMIT_FIELDS) {
    const value = limit[field];
    if (value !== undefined) values[field] = value;
  }
  return values;
}

const sorted = (list: readonly string[] | undefined): string[] => [...(list ?? [])].sort();

/** `l-` and 12 hex characters of the sha256 of the limit, in a canonical form. */
export function contentLimitId(limit: LimitRule): string {
  const budget = limit.budget;
  const canonical = JSON.stringify([
    sorted(limit.models),
    sorted(limit.users),
    sorted(limit.teams),
    sorted(limit.services),
    sorted(limit.keys),
    limit.per ?? 'each',
    LIMIT_FIELDS.map((field) => limit[field] ?? null),
    budget === undefined ? null : [budget.amount ?? null, budget.currency ?? null, budget.tokens ?? null, budget.period, budget.time_zone ?? 'UTC'],
  ]);
  return `l-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}
