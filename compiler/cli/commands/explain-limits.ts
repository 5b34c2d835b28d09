// The limits part of `explain`: found the way the gateway finds them (the principal's limit class,
// and the limits of the principal's keys, kept to those on the model), with what each sets and how
// it reaches the principal; and the model's price.
import type { BundlePayload } from '../../../schemas/types.generated.ts';
import { LIMIT_FIELDS } from '../../check/limit-id.ts';
import type { PolicyModel } from '../../compile.ts';
import { budgetText, priceText } from '../../plan/diff-limits.ts';

export interface ExplainedLimit {
  id: string;
  source: string;
  per: 'each' | 'shared';
  /** How it names the principal: `user alice`, `team ml`, `service app1`, or `key ID` (requests with that key only). */
  via: string[];
  /** The caps it sets (requests_per_minute, ...), as numbers. */
  values: Record<string, number>;
  budget: string | null;
}

/** The limits on `principal` (index into payload.principals) for `fqn`, in bundle order. */
export function explainLimits(payload: BundlePayload, model: PolicyModel, principal: number, fqn: string): ExplainedLimit[] {
  const modelIndex = payload.models.findIndex((m) => m.fqn === fqn);
  const limits = payload.limits ?? [];
  if (modelIndex < 0 || limits.length === 0) return [];
  const p = payload.principals[principal]!;
  const found = new Map<number, string[]>();
  const note = (i: number, via: string) => found.set(i, [...(found.get(i) ?? []), via]);
  for (const i of p.limit_class === undefined ? [] : payload.limit_classes![p.limit_class]!) {
    const resolved = model.limits[i]!;
    if (p.kind === 'user' && resolved.users.includes(p.name)) {
      if (resolved.namedUsers.includes(p.name)) note(i, `user ${p.name}`);
      for (const team of resolved.teams) if (model.directory.teams.get(team)?.includes(p.name)) note(i, `team ${team}`);
    }
    if (p.kind === 'service' && resolved.services.includes(p.name)) note(i, `service ${p.name}`);
  }
  for (const key of payload.keys) {
    if (key.principal !== principal || key.revoked === true) continue;
    for (const i of key.limits ?? []) note(i, `key ${key.id}`);
  }
  return [...found.keys()]
    .sort((a, b) => a - b)
    .filter((i) => limits[i]!.models.includes(modelIndex))
    .map((i) => {
      const resolved = model.limits[i]!;
      const values: Record<string, number> = {};
      for (const field of LIMIT_FIELDS) {
        const value = resolved.values[field];
        if (value !== undefined) values[field] = value;
      }
      return {
        id: resolved.id,
        source: resolved.source,
        per: resolved.per,
        via: found.get(i)!,
        values,
        budget: resolved.budget === undefined ? null : budgetText(resolved.budget),
      };
    });
}

/** The model's declared price as text, or null. */
export function explainPrice(model: PolicyModel, fqn: string): string | null {
  const m = model.catalog.models.get(fqn);
  return m === undefined ? null : (priceText(m) ?? null);
}

/** The text lines explain prints for the limits and the price. */
export function limitTextLines(limits: readonly ExplainedLimit[], price: string | null): string[] {
  const lines = limits.map((l) => {
    const values = Object.entries(l.values).map(([field, value]) => `${field} ${value}`);
    if (l.budget !== null) values.push(`budget ${l.budget}`);
    return `  limit ${l.id} (${l.source}) via ${l.via.join(', ')}, per ${l.per}: ${values.join(', ')}`;
  });
  if (price !== null) lines.push(`  price ${price}`);
  return lines;
}
