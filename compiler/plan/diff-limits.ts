// Limits and prices in the plan: each limit as named fields a reviewer reads (models, subjects,
// per, every value, budget), compared by id between two revisions; prices compared per model.
import { LIMIT_FIELDS } from '../check/limit-id.ts';
import type { ResolvedLimit } from '../check/limits.ts';
import type { CatalogModel } from '../check/providers.ts';
import type { PolicyModel } from '../compile.ts';

/** One limit as the plan shows it: field -> text, only the fields it sets. */
export interface LimitState {
  id: string;
  source: string;
  fields: Record<string, string>;
}

export interface LimitChange {
  id: string;
  change: 'added' | 'removed' | 'changed';
  /** file:line:col in the head (in the base for a removed limit). */
  source: string;
  /** For changed: the fields that differ; absent old or new means the field was set or unset. */
  fields: { field: string; old?: string; new?: string }[];
}

export interface PriceChange {
  model: string;
  old?: string;
  new?: string;
}

/** The limits of a revision by id. */
export function limitStates(model: PolicyModel): Map<string, LimitState> {
  return new Map(model.limits.map((limit) => [limit.id, { id: limit.id, source: limit.source, fields: limitFields(limit) }]));
}

/** The declared prices of a revision by model FQN. */
export function priceStates(model: PolicyModel): Map<string, string> {
  const prices = new Map<string, string>();
  for (const m of model.catalog.models.values()) {
    const text = priceText(m);
    if (text !== undefined) prices.set(m.fqn, text);
  }
  return prices;
}

/** A limit's fields in a fixed order, as text. */
export function limitFields(limit: ResolvedLimit): Record<string, string> {
  const fields: Record<string, string> = {};
  fields.models = limit.models.length > 0 ? limit.models.join(', ') : '(no enabled model)';
  // Subjects as named (teams, not their members: membership changes show as identity changes).
  const named = (list: readonly string[]) => [...list].sort().join(', ');
  if (limit.namedUsers.length > 0) fields.users = named(limit.namedUsers);
  if (limit.teams.length > 0) fields.teams = named(limit.teams);
  if (limit.services.length > 0) fields.services = named(limit.services);
  if (limit.keys.length > 0) fields.keys = named(limit.keys);
  fields.per = limit.per;
  for (const field of LIMIT_FIELDS) {
    const value = limit.values[field];
    if (value !== undefined) fields[field] = String(value);
  }
  if (limit.budget !== undefined) fields.budget = budgetText(limit.budget);
  return fields;
}

/** `2000 USD per month (Europe/Berlin)`, `5000000 tokens per day (UTC)`. */
export function budgetText(budget: NonNullable<ResolvedLimit['budget']>): string {
  const amount = budget.tokens !== undefined ? `${budget.tokens} tokens` : `${budget.amount} ${budget.currency}`;
  return `${amount} per ${budget.period} (${budget.time_zone ?? 'UTC'})`;
}

/** `input 2.5, output 10, cached input 1.25 USD per 1M tokens`, or undefined without pricing. */
export function priceText(model: CatalogModel): string | undefined {
  const p = model.pricing;
  if (p === undefined) return undefined;
  const cached = p.cached_input_per_1m === undefined ? '' : `, cached input ${p.cached_input_per_1m}`;
  return `input ${p.input_per_1m}, output ${p.output_per_1m}${cached} ${p.currency} per 1M tokens`;
}

/** Limits added, removed and changed (which fields, old -> new), sorted by id. */
export function diffLimits(base: ReadonlyMap<string, LimitState>, head: ReadonlyMap<string, LimitState>): LimitChange[] {
  const changes: LimitChange[] = [];
  for (const [id, limit] of head) {
    const before = base.get(id);
    if (before === undefined) {
      changes.push({ id, change: 'added', source: limit.source, fields: Object.entries(limit.fields).map(([field, value]) => ({ field, new: value })) });
      continue;
    }
    const fields: LimitChange['fields'] = [];
    for (const field of new Set([...Object.keys(before.fields), ...Object.keys(limit.fields)])) {
      const old = before.fields[field];
      const now = limit.fields[field];
      if (old !== now) fields.push({ field, ...(old === undefined ? {} : { old }), ...(now === undefined ? {} : { new: now }) });
    }
    if (fields.length > 0) changes.push({ id, change: 'changed', source: limit.source, fields });
  }
  for (const [id, limit] of base)
    if (!head.has(id))
      changes.push({ id, change: 'removed', source: limit.source, fields: Object.entries(limit.fields).map(([field, value]) => ({ field, old: value })) });
  return changes.sort((a, b) => cmp(a.id, b.id));
}

/** Prices set, removed or changed per model, sorted by model. */
export function diffPrices(base: ReadonlyMap<string, string>, head: ReadonlyMap<string, string>): PriceChange[] {
  const changes: PriceChange[] = [];
  for (const model of new Set([...base.keys(), ...head.keys()])) {
    const old = base.get(model);
    const now = head.get(model);
    if (old !== now) changes.push({ model, ...(old === undefined ? {} : { old }), ...(now === undefined ? {} : { new: now }) });
  }
  return changes.sort((a, b) => cmp(a.model, b.model));
}

/** The markdown section of the plan; nothing when no limit or price changes. */
export function limitLines(limits: readonly LimitChange[], prices: readonly PriceChange[], esc: (text: string) => string): string[] {
  const out: string[] = [];
  if (limits.length > 0) {
    out.push('', '#### Limits', '');
    for (const l of limits) {
      out.push(`- limit \`${esc(l.id)}\` ${l.change} (\`${l.source}\`)`);
      for (const f of l.fields) {
        const text =
          l.change === 'added'
            ? esc(f.new ?? '')
            : l.change === 'removed'
              ? esc(f.old ?? '')
              : `${f.old === undefined ? '(unset)' : esc(f.old)} → ${f.new === undefined ? '(unset)' : esc(f.new)}`;
        out.push(`  - ${f.field}: ${text}`);
      }
    }
  }
  if (prices.length > 0) {
    out.push('', '#### Prices', '');
    for (const p of prices)
      out.push(`- \`${esc(p.model)}\`: ${p.old === undefined ? '(no price)' : esc(p.old)} → ${p.new === undefined ? '(no price)' : esc(p.new)}`);
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
