// The limit index of the bundle (DESIGN.md section 2, the bundle format for limits): limits in
// policy order, principals pointing at a deduplicated class of limit indices (like access
// classes), keys at the limits that name them. The runtime finds a request's limits as
// limit_classes[principal.limit_class] ∪ key.limits, filtered by the model: O(1) lookups.
import type { BundleLimit } from '../../schemas/types.generated.ts';
import { LIMIT_FIELDS } from '../check/limit-id.ts';
import type { ResolvedLimit } from '../check/limits.ts';
import { principalKey } from '../resolve/principal.ts';

export interface LimitIndex {
  limits: BundleLimit[];
  limitClasses: number[][];
  /** The limit class of a principal (by principalKey), absent when no limit names it. */
  classOf: (principal: string) => number | undefined;
  /** Sorted limit indices naming a key id, absent when none. */
  keyLimits: (keyId: string) => number[] | undefined;
}

/** Builds the index; `modelIndex` maps an FQN to its index in the bundle's models. */
export function buildLimitIndex(resolved: readonly ResolvedLimit[], modelIndex: ReadonlyMap<string, number>): LimitIndex {
  const byPrincipal = new Map<string, number[]>();
  const byKey = new Map<string, number[]>();
  const limits = resolved.map((limit, i): BundleLimit => {
    const out: BundleLimit = {
      id: limit.id,
      source: limit.source,
      per: limit.per,
      models: limit.models.map((fqn) => modelIndex.get(fqn)!).sort((a, b) => a - b),
    };
    for (const field of LIMIT_FIELDS) {
      const value = limit.values[field];
      if (value !== undefined) out[field] = value;
    }
    if (limit.budget !== undefined) out.budget = bundleBudget(limit.budget);
    // A limit on no enabled model can never apply: it stays listed (explain, audit) but no
    // principal or key points at it, so the runtime never looks at it.
    if (out.models.length > 0) {
      for (const user of limit.users) push(byPrincipal, principalKey('user', user), i);
      for (const service of limit.services) push(byPrincipal, principalKey('service', service), i);
      for (const key of limit.keys) push(byKey, key, i);
    }
    return out;
  });

  const classIndex = new Map<string, number>();
  const limitClasses: number[][] = [];
  const classOf = (principal: string): number | undefined => {
    const list = byPrincipal.get(principal);
    if (list === undefined) return undefined;
    const key = list.join(',');
    let index = classIndex.get(key);
    if (index === undefined) {
      index = limitClasses.length;
      limitClasses.push(list);
      classIndex.set(key, index);
    }
    return index;
  };
  return { limits, limitClasses, classOf, keyLimits: (keyId) => byKey.get(keyId) };
}

// Fields in the bundle's order; the time zone is written only when it is not the default (UTC).
function bundleBudget(budget: NonNullable<ResolvedLimit['budget']>): NonNullable<BundleLimit['budget']> {
  return {
    ...(budget.amount === undefined ? {} : { amount: budget.amount }),
    ...(budget.currency === undefined ? {} : { currency: budget.currency }),
    ...(budget.tokens === undefined ? {} : { tokens: budget.tokens }),
    period: budget.period,
    ...(budget.time_zone === undefined || budget.time_zone === 'UTC' ? {} : { time_zone: budget.time_zone }),
  };
}

function push(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
