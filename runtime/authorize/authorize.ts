// Step 2 of the request path: may this principal use this model now? Two lookups in the index
// built at activation; grants with an expiry lapse at that instant, with no reload.

import type { DenyReason } from '../../schemas/bundle/decision-index.ts';
import type { ActiveBundle, ModelRoute } from '../bundle/activate.ts';
import type { RuntimeErrorCode } from '../errors.ts';

export type Authorization =
  | {
      ok: true;
      /** The model's index in the bundle (its limits and prices are indexed by it). */
      model: number;
      route: ModelRoute;
      rule: string;
      ruleId: string;
      via: string | null;
    }
  | { ok: false; code: RuntimeErrorCode; reason: DenyReason };

/** The decision for (principal, fqn) at nowMs, with the granting rule's source for the audit line. */
export function authorize(bundle: ActiveBundle, principal: number, fqn: string, nowMs: number): Authorization {
  const decision = bundle.index.decide(principal, fqn, nowMs);
  if (decision.allowed) {
    const via = bundle.index.via(principal, decision.rule);
    return { ok: true, model: decision.model, route: bundle.routes[decision.model] as ModelRoute, rule: decision.source, ruleId: decision.ruleId, via };
  }
  return { ok: false, code: decision.reason === 'unknown_model' ? 'MG_MODEL_NOT_FOUND' : 'MG_MODEL_NOT_ALLOWED', reason: decision.reason };
}

/** One entry of GET /v1/models, in OpenAI's model shape. */
export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** GET /v1/models: exactly what authorize() allows for this principal at nowMs, in OpenAI's list shape. */
export function listModels(bundle: ActiveBundle, principal: number, nowMs: number): { object: 'list'; data: ModelEntry[] } {
  return { object: 'list', data: bundle.index.allowedModels(principal, nowMs).map((fqn) => modelEntry(bundle, fqn)) };
}

/**
 * GET /v1/models/{account}/{model}: the entry listModels() holds for fqn, or null for a model the
 * principal may not use now or that does not exist (the caller is not told which).
 */
export function retrieveModel(bundle: ActiveBundle, principal: number, fqn: string, nowMs: number): ModelEntry | null {
  return bundle.index.decide(principal, fqn, nowMs).allowed ? modelEntry(bundle, fqn) : null;
}

function modelEntry(bundle: ActiveBundle, fqn: string): ModelEntry {
  const model = bundle.index.modelByFqn.get(fqn) as number;
  return { id: fqn, object: 'model', created: Math.floor(bundle.createdAtMs / 1000), owned_by: (bundle.routes[model] as ModelRoute).account };
}
