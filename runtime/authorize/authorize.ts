// Step 2 of the request path: may this principal use this model now? Two lookups in the index
// built at activation; grants with an expiry lapse at that instant, with no reload.

import type { DenyReason } from '../../schemas/bundle/decision-index.ts';
import type { ActiveBundle, ModelRoute } from '../bundle/activate.ts';
import type { RuntimeErrorCode } from '../errors.ts';

export type Authorization =
  | { ok: true; route: ModelRoute; rule: string; ruleId: string; via: string | null }
  | { ok: false; code: RuntimeErrorCode; reason: DenyReason };

/** The decision for (principal, fqn) at nowMs, with the granting rule's source for the audit line. */
export function authorize(bundle: ActiveBundle, principal: number, fqn: string, nowMs: number): Authorization {
  const decision = bundle.index.decide(principal, fqn, nowMs);
  if (decision.allowed) {
    const via = bundle.index.via(principal, decision.rule);
    return { ok: true, route: bundle.routes[decision.model] as ModelRoute, rule: decision.source, ruleId: decision.ruleId, via };
  }
  return { ok: false, code: decision.reason === 'unknown_model' ? 'MG_MODEL_NOT_FOUND' : 'MG_MODEL_NOT_ALLOWED', reason: decision.reason };
}

/** GET /v1/models: exactly what authorize() allows for this principal at nowMs, in OpenAI's list shape. */
export function listModels(
  bundle: ActiveBundle,
  principal: number,
  nowMs: number,
): { object: 'list'; data: { id: string; object: 'model'; created: number; owned_by: string }[] } {
  const created = Math.floor(bundle.createdAtMs / 1000);
  return {
    object: 'list',
    data: bundle.index.allowedModels(principal, nowMs).map((fqn) => {
      const model = bundle.index.modelByFqn.get(fqn) as number;
      return { id: fqn, object: 'model', created, owned_by: (bundle.routes[model] as ModelRoute).account };
    }),
  };
}
