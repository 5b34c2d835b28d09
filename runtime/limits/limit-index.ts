// The bundle's limits, indexed at activation so that a request finds its limits in O(1):
// principal -> limit class -> limit indices, plus the limits that name the request's key, each
// kept when its model set (a bitmap by model index) holds the request's model.
import type { BundlePayload, BundlePricing } from '../../schemas/types.generated.ts';
import { type Meter, metersOf } from './meters.ts';

export interface CompiledLimit {
  id: string;
  /** file:line:col of the limit in the policy repository. */
  source: string;
  shared: boolean;
  meters: Meter[];
  /** 1 at the index of each model the limit applies to. */
  models: Uint8Array;
}

export interface LimitIndex {
  limits: CompiledLimit[];
  /** By principal index: the limits that name the principal (directly, through a team, as a service). */
  byPrincipal(principal: number): readonly number[] | undefined;
  /** By model index: its prices (money budgets). */
  pricing: ReadonlyArray<BundlePricing | undefined>;
  /**
   * A principal's own limits on a model, by principal × models + model, made once: the request
   * path then builds no bucket or key strings (their garbage was most of what limits cost a
   * request). Bounded by APPLIED_CACHE_MAX; lives and dies with the bundle.
   */
  applied: Map<number, readonly AppliedLimit[]>;
  /**
   * The same for requests made with a key that limits name: the key's owner's limits and the
   * key's, by key id and then model, made once (a key has one owner). Without it each such
   * request built its set, bucket and key strings and a meter plan afresh: five times what a
   * principal's limit cost, in a loop. Bounded with applied (APPLIED_CACHE_MAX sets in all).
   */
  appliedByKey: Map<string, Map<number, readonly AppliedLimit[]>>;
  /** The sets held in appliedByKey. */
  appliedByKeyCount: number;
}

/** One limit as it applies to one request: the limit and the bucket it counts in. */
export interface AppliedLimit {
  limit: CompiledLimit;
  /** limit.id, then the principal's id (per: each) or key:KEYID (a limit reached through keys:). */
  bucket: string;
  /** The store's key of each of limit.meters, in order: mg:l:BUCKET|REASON. */
  keys: readonly string[];
}

/** Entries of LimitIndex.applied before it starts afresh (a few MB at most). */
export const APPLIED_CACHE_MAX = 65_536;

function appliedOf(limit: CompiledLimit, bucket: string): AppliedLimit {
  return { limit, bucket, keys: limit.meters.map((meter) => `mg:l:${bucket}|${meter.reason}`) };
}

/**
 * Where the per-principal part lives: the activated bundle's flat tables. The limits that name a
 * key come with the key, read at authentication (KeyTable.get).
 */
export interface LimitTables {
  principals: { limitClassOf(index: number): number | undefined };
}

/**
 * The index of the payload's limits, or null when it has none (the request path then skips
 * limits). Principals and keys are read from the bundle's tables on demand, so activation never
 * walks them on the main thread.
 */
export function buildLimitIndex(payload: Pick<BundlePayload, 'limits' | 'limit_classes' | 'models'>, tables: LimitTables): LimitIndex | null {
  const specs = payload.limits ?? [];
  if (specs.length === 0) return null;
  const limits = specs.map((spec): CompiledLimit => {
    const models = new Uint8Array(payload.models.length);
    for (const m of spec.models) models[m] = 1;
    return { id: spec.id, source: spec.source, shared: spec.per === 'shared', meters: metersOf(spec), models };
  });
  const classes = payload.limit_classes ?? [];
  return {
    limits,
    byPrincipal: (principal) => {
      const cls = tables.principals.limitClassOf(principal);
      return cls === undefined ? undefined : classes[cls];
    },
    pricing: payload.models.map((m) => m.pricing),
    applied: new Map(),
    appliedByKey: new Map(),
    appliedByKeyCount: 0,
  };
}

const NONE: readonly AppliedLimit[] = Object.freeze([]);

/**
 * The limits of one request: principal's (by its index and stable id), and those that name the
 * caller's API key (null for a token-authenticated caller or a key no limit names), kept when
 * they cover model.
 */
export function applicableLimits(
  index: LimitIndex,
  principal: number,
  principalId: string,
  key: { id: string; limits: readonly number[] } | null,
  model: number,
): readonly AppliedLimit[] {
  if (key === null || key.limits.length === 0) return ownLimits(index, principal, principalId, model);
  const keyId = key.id;
  let byModel = index.appliedByKey.get(keyId);
  const held = byModel?.get(model);
  if (held !== undefined) return held;
  const own = ownLimits(index, principal, principalId, model);
  let applied: readonly AppliedLimit[] = own;
  for (const i of key.limits) {
    const limit = index.limits[i] as CompiledLimit;
    if (limit.models[model] !== 1) continue;
    const bucket = limit.shared ? limit.id : `${limit.id}|key:${keyId}`;
    if (!applied.some((a) => a.bucket === bucket)) applied = [...applied, appliedOf(limit, bucket)];
  }
  if (index.appliedByKeyCount >= APPLIED_CACHE_MAX) {
    index.appliedByKey.clear();
    index.appliedByKeyCount = 0;
    byModel = undefined;
  }
  if (byModel === undefined) index.appliedByKey.set(keyId, (byModel = new Map()));
  byModel.set(model, applied);
  index.appliedByKeyCount++;
  return applied;
}

/** The principal's own limits that cover model, from the cache or made and kept there. */
function ownLimits(index: LimitIndex, principal: number, principalId: string, model: number): readonly AppliedLimit[] {
  const own = index.byPrincipal(principal);
  if (own === undefined) return NONE;
  const at = principal * (index.pricing.length + 1) + model;
  const held = index.applied.get(at);
  if (held !== undefined) return held;
  const applied: AppliedLimit[] = [];
  for (const i of own) {
    const limit = index.limits[i] as CompiledLimit;
    if (limit.models[model] === 1) applied.push(appliedOf(limit, limit.shared ? limit.id : `${limit.id}|${principalId}`));
  }
  if (index.applied.size >= APPLIED_CACHE_MAX) index.applied.clear();
  index.applied.set(at, applied);
  return applied;
}
