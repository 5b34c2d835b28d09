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
  'input_tokens_per_day',
  'output_tokens_per_day',
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

/**
 * Fields added after content ids were first published: hashed only when set, so that the id of
 * a limit that does not use them (and the counters the gateways keep under it) stays the same.
 */
const ADDED_FIELDS: readonly LimitField[] = ['input_tokens_per_day', 'output_tokens_per_day'];
const FIRST_FIELDS = LIMIT_FIELDS.filter((field) => !ADDED_FIELDS.includes(field));

/** `l-` and 12 hex characters of the sha256 of the limit, in a canonical form. */
export function contentLimitId(limit: LimitRule): string {
  const budget = limit.budget;
  const added = ADDED_FIELDS.filter((field) => limit[field] !== undefined).map((field) => [field, limit[field]]);
  const canonical = JSON.stringify([
    sorted(limit.models),
    sorted(limit.users),
    sorted(limit.teams),
    sorted(limit.services),
    sorted(limit.keys),
    limit.per ?? 'each',
    FIRST_FIELDS.map((field) => limit[field] ?? null),
    budget === undefined ? null : [budget.amount ?? null, budget.currency ?? null, budget.tokens ?? null, budget.period, budget.time_zone ?? 'UTC'],
    ...(added.length === 0 ? [] : [added]),
  ]);
  return `l-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}
