// Stage 3b: turn a compact bundle (compact.ts, built in the activation worker or in process)
// into the structures the hot path reads. The gate (stage 3a) is gate.ts.

import { type DecisionIndex, decisionIndexOf } from '../../schemas/bundle/decision-index.ts';
import type { VerifiedBundle } from '../../schemas/bundle/verify.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { type OidcPrincipals, oidcPrincipalsOf } from '../auth/oidc-principal.ts';
import { indexModelNames, type ModelNames } from '../authorize/model-names.ts';
import { buildLimitIndex, type LimitIndex } from '../limits/limit-index.ts';
import { createProvider } from '../providers/index.ts';
import type { ModelTarget, Provider, ProviderContext } from '../providers/provider.ts';
import { type CompactBundle, compactBundle, type SmallPayload } from './compact.ts';
import { BundleHolds } from './holds.ts';
import { type KeyLookup, KeyTable, type PrincipalList, PrincipalTable } from './tables.ts';

export { type ActivationGate, checkActivation, type GateInput, type SerialFloor } from './gate.ts';
export type { CompiledKey, KeyLookup, PrincipalInfo, PrincipalList } from './tables.ts';

export interface ModelRoute {
  fqn: string;
  account: string;
  provider: Provider;
  target: ModelTarget;
}

/** Everything the request path reads, computed once per activation; swapped as one reference. */
export interface ActiveBundle {
  serial: number;
  revision: string;
  digest: string;
  audience: string;
  createdAtMs: number;
  expiresAtMs: number;
  activatedAtMs: number;
  index: DecisionIndex;
  /** Keys by id; get() makes the record on demand from the flat key table. */
  keys: KeyLookup;
  /** Principals by index: principals.at(i). */
  principals: PrincipalList;
  /** By model index, as DecisionIndex.decide returns it. */
  routes: readonly ModelRoute[];
  providers: readonly Provider[];
  /** Aliases and bare model names (authorize/model-names.ts). */
  names: ModelNames;
  /** The OIDC issuers this bundle trusts, and principals by OIDC user claim / client id. */
  oidc: { issuers: BundlePayload['oidc']['issuers']; principals: OidcPrincipals };
  /**
   * The payload's small parts as plain data (providers, models, aliases, teams, oidc, and any
   * optional part such as limits); principals, keys and grants are only in the tables above.
   */
  payload: Readonly<SmallPayload>;
  /** Rate limits and budgets by principal, key and model; null when the bundle has none. */
  limits: LimitIndex | null;
  /** The requests on this bundle; its tables are released once it is replaced and they have ended (holds.ts). */
  holds: BundleHolds;
}

/** Compiles a verified payload into an ActiveBundle in process (no I/O): tests and tools. */
export function compileActiveBundle(bundle: VerifiedBundle, ctx: ProviderContext, nowMs: number): ActiveBundle {
  return activeBundleOf(compactBundle(bundle), ctx, nowMs);
}

/**
 * The ActiveBundle over a compact bundle. On the main thread: its cost is the small parts only
 * (providers, routes, model names), never a walk over principals, keys or rules. buffers: the
 * tables' ArrayBuffers this thread owns alone (transferred from the worker), released when the
 * bundle is replaced and no request holds it.
 */
export function activeBundleOf(compact: CompactBundle, ctx: ProviderContext, nowMs: number, buffers: readonly ArrayBuffer[] = []): ActiveBundle {
  const payload = compact.payload;
  const keys = new KeyTable(compact.keys);
  const principals = new PrincipalTable(compact.principals);
  const providers = payload.providers.map((spec) => createProvider(spec, ctx));
  const routes = payload.models.map((model): ModelRoute => {
    const provider = providers[model.provider] as Provider;
    return { fqn: model.fqn, account: provider.name, provider, target: provider.prepare(model) };
  });
  return {
    serial: payload.serial,
    revision: payload.revision,
    digest: compact.digest,
    audience: payload.audience,
    createdAtMs: Date.parse(payload.created_at),
    expiresAtMs: Date.parse(payload.expires_at),
    activatedAtMs: nowMs,
    index: decisionIndexOf(
      compact.grants,
      payload.models.map((m) => m.fqn),
      // Stryker disable next-line ArrayDeclaration: equivalent, a bundle without teams has no rule naming one, so no name is ever read
      payload.teams ?? [],
    ),
    keys,
    principals,
    routes,
    providers,
    names: indexModelNames(payload),
    oidc: { issuers: payload.oidc.issuers, principals: oidcPrincipalsOf(compact.principals.oidc) },
    payload,
    limits: buildLimitIndex(payload, { principals }),
    holds: new BundleHolds(buffers),
  };
}
