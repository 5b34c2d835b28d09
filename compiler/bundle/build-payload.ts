// The grant index: principals -> access class -> rules -> model indices. Rules carry their
// expiry and source (file:line:col); principals with the same set of rules share one class,
// which keeps the bundle small where per-principal model sets would not be (DESIGN.md section 4).

import { MAX_BUNDLE_LIFETIME_MS, parseBoundedDuration } from '../../schemas/formats/duration.ts';
import type { BundlePayload, BundlePricing, BundlePrincipal, BundleProvider, ModelPricing } from '../../schemas/types.generated.ts';
import type { ResolvedKey } from '../check/keys.ts';
import type { PolicyModel } from '../compile.ts';
import { principalKey } from '../resolve/principal.ts';
import { buildLimitIndex } from './build-limits.ts';

export interface BundleMeta {
  serial: number;
  revision: string;
  createdAt: Date;
}

const DEFAULT_BASE_URL: Record<string, string> = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com/v1', mock: 'mock://local' };

/** Builds the payload. Deterministic: the same model and meta give the same object, key order included. */
export function buildPayload(model: PolicyModel, meta: BundleMeta): BundlePayload {
  const { catalog, rules, directory, keys, gateway } = model;

  const providerNames = [...catalog.accounts.keys()].sort();
  const providerIndex = new Map(providerNames.map((name, i) => [name, i]));
  const providers = providerNames.map((name): BundleProvider => {
    const account = catalog.accounts.get(name)!.doc.data;
    const provider: BundleProvider = { name, type: account.type, base_url: account.base_url ?? DEFAULT_BASE_URL[account.type] ?? '' };
    if (account.api_version !== undefined) provider.api_version = account.api_version;
    if (account.secret !== undefined) provider.secret = account.secret;
    // Only the exception is written: bundles of accounts that keep the default stay as they were.
    if (account.stream_usage === false) provider.stream_usage = false;
    return provider;
  });

  const modelIndex = new Map<string, number>();
  const models = [...catalog.models.values()].map((m, i) => {
    modelIndex.set(m.fqn, i);
    const out: BundlePayload['models'][number] = { fqn: m.fqn, provider: providerIndex.get(m.account)!, upstream: m.upstream, enabled: m.enabled };
    if (m.pricing !== undefined) out.pricing = bundlePricing(m.pricing);
    return out;
  });
  const limitIndex = buildLimitIndex(model.limits, modelIndex);

  const rulesByUser = new Map<string, number[]>();
  const rulesByService = new Map<string, number[]>();
  // Teams named by rules, for the audit line's via: each rule lists its teams and the users it
  // names directly, each user the named teams they belong to (indices filled in below).
  const teamNames = [...new Set(rules.flatMap((rule) => rule.teams))].sort();
  const teamIndex = new Map(teamNames.map((name, i) => [name, i]));
  const bundleRules = rules.map((rule, i) => {
    for (const user of rule.users) push(rulesByUser, user, i);
    for (const service of rule.services) push(rulesByService, service, i);
    const out: BundlePayload['rules'][number] = { source: rule.source, id: rule.id, models: rule.models.map((fqn) => modelIndex.get(fqn)!) };
    if (rule.expires !== undefined) out.expires = rule.expires;
    if (rule.teams.length > 0) out.teams = rule.teams.map((t) => teamIndex.get(t)!).sort((a, b) => a - b);
    return out;
  });

  const classIndex = new Map<string, number>();
  const accessClasses: number[][] = [];
  const classOf = (ruleIds: number[] | undefined): number | null => {
    const granting = (ruleIds ?? []).filter((r) => bundleRules[r]!.models.length > 0);
    if (granting.length === 0) return null;
    const key = granting.join(',');
    let index = classIndex.get(key);
    if (index === undefined) {
      index = accessClasses.length;
      accessClasses.push(granting);
      classIndex.set(key, index);
    }
    return index;
  };

  const principals: BundlePrincipal[] = [];
  const principalIndex = new Map<string, number>();
  const teamsOfUser = new Map<string, number[]>();
  for (const [i, team] of teamNames.entries()) for (const member of directory.teams.get(team) ?? []) push(teamsOfUser, member, i);
  for (const name of [...directory.users.keys()].sort()) {
    const user = directory.users.get(name)!;
    const p: BundlePrincipal = { id: user.id, name, kind: 'user', access_class: classOf(rulesByUser.get(name)) };
    const teams = teamsOfUser.get(name);
    if (teams !== undefined && p.access_class !== null) p.teams = teams;
    if (user.oidc_subject !== undefined) p.oidc_subject = user.oidc_subject;
    const limitClass = limitIndex.classOf(principalKey('user', name));
    if (limitClass !== undefined) p.limit_class = limitClass;
    principalIndex.set(principalKey('user', name), principals.length);
    principals.push(p);
  }
  rules.forEach((rule, i) => {
    if (rule.teams.length > 0) bundleRules[i]!.named = rule.namedUsers.map((u) => principalIndex.get(principalKey('user', u))!).sort((a, b) => a - b);
  });
  for (const name of [...directory.services.keys()].sort()) {
    const service = directory.services.get(name)!;
    const p: BundlePrincipal = { id: service.id, name, kind: 'service', access_class: classOf(rulesByService.get(name)) };
    if (service.oidc_client_id !== undefined) p.oidc_client_id = service.oidc_client_id;
    const limitClass = limitIndex.classOf(principalKey('service', name));
    if (limitClass !== undefined) p.limit_class = limitClass;
    principalIndex.set(principalKey('service', name), principals.length);
    principals.push(p);
  }

  const bundleKeys = keys.map((k: ResolvedKey) => {
    const out: BundlePayload['keys'][number] = { id: k.record.id, sha256: k.record.sha256, principal: principalIndex.get(principalKey(k.kind, k.name))! };
    if (k.record.expires !== undefined) out.expires = new Date(Date.parse(k.record.expires)).toISOString();
    if (k.record.revoked === true) out.revoked = true;
    const limits = limitIndex.keyLimits(k.record.id);
    if (limits !== undefined) out.limits = limits;
    return out;
  });

  const issuers = (gateway.oidc?.issuers ?? []).map((issuer) => {
    const out: BundlePayload['oidc']['issuers'][number] = {
      issuer: issuer.issuer,
      audience: issuer.audience,
      // sub, not preferred_username: a username claim is editable at some issuers (see docs/oidc.md).
      user_claim: issuer.user_claim ?? 'sub',
      service_claim: issuer.service_claim ?? 'client_id',
    };
    if (issuer.jwks_uri !== undefined) out.jwks_uri = issuer.jwks_uri;
    return out;
  });

  // Sorted by name: the same policy gives the same bytes.
  const aliases = Object.entries(gateway.aliases ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, fqn]) => ({ name, model: modelIndex.get(fqn)! }));

  const payload: BundlePayload = {
    format: 1,
    audience: gateway.audience,
    serial: meta.serial,
    revision: meta.revision,
    created_at: meta.createdAt.toISOString(),
    expires_at: new Date(meta.createdAt.getTime() + lifetimeMs(gateway.bundle?.lifetime ?? '7d')).toISOString(),
    providers,
    models,
    rules: bundleRules,
    access_classes: accessClasses,
    principals,
    keys: bundleKeys,
    ...(teamNames.length > 0 ? { teams: teamNames } : {}),
    oidc: { issuers },
  };
  if (aliases.length > 0) payload.aliases = aliases;
  // Written only when the policy has limits: bundles without them stay as they were.
  if (limitIndex.limits.length > 0) {
    payload.limits = limitIndex.limits;
    payload.limit_classes = limitIndex.limitClasses;
  }
  return payload;
}

/** "7d" / "36h" / "90m" in milliseconds (the schema has already checked the shape and the bound). */
function lifetimeMs(text: string): number {
  const ms = parseBoundedDuration(text, MAX_BUNDLE_LIFETIME_MS);
  if (ms === null) throw new Error(`invalid lifetime "${text}"`);
  return ms;
}

// Key order fixed (the schema's), whatever order the provider file wrote them in.
function bundlePricing(pricing: ModelPricing): BundlePricing {
  return {
    input_per_1m: pricing.input_per_1m,
    output_per_1m: pricing.output_per_1m,
    ...(pricing.cached_input_per_1m === undefined ? {} : { cached_input_per_1m: pricing.cached_input_per_1m }),
    currency: pricing.currency,
  };
}

function push(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
