// Stage 3: decide whether a verified bundle may replace the active one (audience, creation time,
// serial floor, expiry, in that order), then compile it into the structures the hot path reads.

import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { buildDecisionIndex, type DecisionIndex } from '../../schemas/bundle/decision-index.ts';
import { createdInFuture, isBundleExpired, MAX_CLOCK_SKEW_MS } from '../../schemas/bundle/expiry.ts';
import type { VerifiedBundle } from '../../schemas/bundle/verify.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { indexOidcPrincipals, type OidcPrincipals } from '../auth/oidc-principal.ts';
import { indexModelNames, type ModelNames } from '../authorize/model-names.ts';
import { buildLimitIndex, type LimitIndex } from '../limits/limit-index.ts';
import { createProvider } from '../providers/index.ts';
import type { ModelTarget, Provider, ProviderContext } from '../providers/provider.ts';
import { ALLOW_ALL, checkAllowList, type OperatorAllowList } from './allow-list.ts';

/** The highest serial ever activated here, with its digest: rollback protection across restarts. */
export interface SerialFloor {
  serial: number;
  digest: string;
}

export interface ActivationGate {
  audience: string;
  active: SerialFloor | null;
  floor: SerialFloor | null;
  nowMs: number;
  /** The bundle comes from our own cache at boot and expired bundles may keep serving (serve-stale). */
  acceptExpired: boolean;
  /** The operator's allow-lists (default: anything). */
  allow?: OperatorAllowList;
}

/** 'activate', or 'unchanged' for the active bundle seen again; throws BundleError for a refusal. */
export function checkActivation(bundle: VerifiedBundle, gate: ActivationGate): 'activate' | 'unchanged' {
  const { payload, digest } = bundle;
  if (payload.audience !== gate.audience) {
    throw new BundleError('MG_BUNDLE_AUDIENCE', `the bundle is for audience "${payload.audience}", this gateway serves "${gate.audience}"`);
  }
  // Refused before the serial is looked at: activating it would raise the serial floor to a value
  // that every honest bundle published until then would be a rollback against.
  if (createdInFuture(payload, gate.nowMs)) {
    throw new BundleError(
      'MG_BUNDLE_CREATED_IN_FUTURE',
      `the bundle was created at ${payload.created_at}, later than this gateway's clock allows (${MAX_CLOCK_SKEW_MS / 60_000} min of skew)`,
    );
  }
  const known = highest(gate.active, gate.floor);
  if (known !== null) {
    if (payload.serial < known.serial) {
      throw new BundleError('MG_BUNDLE_ROLLBACK', `bundle serial ${payload.serial} is older than serial ${known.serial} already activated`);
    }
    if (payload.serial === known.serial) {
      if (digest !== known.digest) {
        throw new BundleError(
          'MG_BUNDLE_SERIAL_CONFLICT',
          `bundle serial ${payload.serial} was already activated with different content: two different bundles carry one serial`,
        );
      }
      if (gate.active !== null && gate.active.digest === digest) return 'unchanged';
    }
  }
  if (isBundleExpired(payload, gate.nowMs) && !gate.acceptExpired) {
    throw new BundleError('MG_BUNDLE_EXPIRED', `the bundle expired at ${payload.expires_at}`);
  }
  checkAllowList(payload, gate.allow ?? ALLOW_ALL);
  return 'activate';
}

function highest(a: SerialFloor | null, b: SerialFloor | null): SerialFloor | null {
  if (a === null) return b;
  if (b === null) return a;
  return b.serial > a.serial ? b : a;
}

export interface CompiledKey {
  /** sha256 of the whole key, as bytes, for crypto.timingSafeEqual. */
  digest: Buffer;
  principal: number;
  expiresMs: number;
  revoked: boolean;
}

export interface PrincipalInfo {
  id: string;
  name: string;
  kind: 'user' | 'service';
  /** How logs and metrics name the principal: alice, service:llmapp1. */
  label: string;
}

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
  keys: ReadonlyMap<string, CompiledKey>;
  principals: readonly PrincipalInfo[];
  /** By model index, as DecisionIndex.decide returns it. */
  routes: readonly ModelRoute[];
  providers: readonly Provider[];
  /** Aliases and bare model names (authorize/model-names.ts). */
  names: ModelNames;
  /** The OIDC issuers this bundle trusts, and principals by OIDC user claim / client id. */
  oidc: { issuers: BundlePayload['oidc']['issuers']; principals: OidcPrincipals };
  /** Rate limits and budgets by principal, key and model; null when the bundle has none. */
  limits: LimitIndex | null;
}

/** Compiles a verified payload into an ActiveBundle (no I/O). */
export function compileActiveBundle(bundle: VerifiedBundle, ctx: ProviderContext, nowMs: number): ActiveBundle {
  const payload: BundlePayload = bundle.payload;
  const providers = payload.providers.map((spec) => createProvider(spec, ctx));
  const routes = payload.models.map((model): ModelRoute => {
    const provider = providers[model.provider] as Provider;
    return { fqn: model.fqn, account: provider.name, provider, target: provider.prepare(model) };
  });
  const keys = new Map<string, CompiledKey>();
  for (const key of payload.keys) {
    keys.set(key.id, {
      digest: Buffer.from(key.sha256, 'hex'),
      principal: key.principal,
      expiresMs: key.expires === undefined ? Infinity : Date.parse(key.expires),
      revoked: key.revoked === true,
    });
  }
  const principals = payload.principals.map(
    (p): PrincipalInfo => ({ id: p.id, name: p.name, kind: p.kind, label: p.kind === 'service' ? `service:${p.name}` : p.name }),
  );
  return {
    serial: payload.serial,
    revision: payload.revision,
    digest: bundle.digest,
    audience: payload.audience,
    createdAtMs: Date.parse(payload.created_at),
    expiresAtMs: Date.parse(payload.expires_at),
    activatedAtMs: nowMs,
    index: buildDecisionIndex(payload),
    keys,
    principals,
    routes,
    providers,
    names: indexModelNames(payload),
    oidc: { issuers: payload.oidc.issuers, principals: indexOidcPrincipals(payload) },
    limits: buildLimitIndex(payload),
  };
}
