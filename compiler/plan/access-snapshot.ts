// What one revision of the policies means, as plain data a diff can compare: who exists (by stable
// id), who may use which model at `now`, which keys exist, which accounts and models are declared.
import { minimatch } from 'minimatch';
import { isGlob } from '../check/model-glob.ts';
import type { PolicyModel } from '../compile.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import type { PolicySet } from '../load/policy-set.ts';
import { principalKey, principalText } from '../resolve/principal.ts';
import { type LimitState, limitStates, priceStates } from './diff-limits.ts';

export interface PrincipalRef {
  kind: 'user' | 'service';
  name: string;
  /** Stable identity. */
  id: string;
}

export interface Grant {
  principal: PrincipalRef;
  model: string;
  /** file:line:col of every rule granting it. */
  sources: string[];
  /** The latest expiry among the granting rules; absent when one of them never expires. */
  expires?: string;
}

export interface KeyState {
  id: string;
  principal: string;
  expires?: string;
  revoked: boolean;
}

export interface BroadRule {
  source: string;
  reason: string;
}

export interface AccessSnapshot {
  /** Commit id, or "working tree". */
  revision: string;
  /** Errors make the snapshot partial: access is then empty. */
  errors: Diagnostic[];
  /** Warnings a reviewer should see in the plan (API keys without an expiry). */
  warnings: Diagnostic[];
  /** principal id -> principal */
  principals: Map<string, PrincipalRef>;
  /** `${principal id} ${model fqn}` -> grant */
  grants: Map<string, Grant>;
  keys: Map<string, KeyState>;
  /** account -> model name -> enabled */
  accounts: Map<string, Map<string, boolean>>;
  /** Model alias -> FQN, from gateway.yaml. */
  aliases: Map<string, string>;
  /** Pinned name -> id resolutions from the identity lock (`user:alice`, `service:llmapp1`). */
  pins: Map<string, string>;
  /** Rules that are broad enough to deserve a second look. */
  broadRules: BroadRule[];
  /** Limits by id. */
  limits: Map<string, LimitState>;
  /** Model FQN -> its price as text, for models that declare one. */
  prices: Map<string, string>;
}

export interface SnapshotOptions {
  now: Date;
  /** A team with more members than this is "large". */
  largeTeam: number;
}

/** The key of one principal-model grant in a snapshot. */
function grantKey(principalId: string, model: string): string {
  return `${principalId} ${model}`;
}

/** The snapshot of an analyzed revision; `model` is null when the revision has errors. */
export function accessSnapshot(
  revision: string,
  set: PolicySet,
  model: PolicyModel | null,
  diagnostics: readonly Diagnostic[],
  options: SnapshotOptions,
): AccessSnapshot {
  const snapshot: AccessSnapshot = {
    revision,
    errors: diagnostics.filter((d) => d.severity === 'error'),
    warnings: diagnostics.filter((d) => d.code === 'MG_KEY_NO_EXPIRY'),
    principals: new Map(),
    grants: new Map(),
    keys: new Map(),
    accounts: new Map(),
    aliases: new Map(),
    pins: new Map(),
    broadRules: [],
    limits: new Map(),
    prices: new Map(),
  };
  for (const [name, id] of Object.entries(set.lock?.data.users ?? {})) snapshot.pins.set(principalKey('user', name), id);
  for (const [name, id] of Object.entries(set.lock?.data.services ?? {})) snapshot.pins.set(principalKey('service', name), id);
  if (model === null) return snapshot;

  const byName = new Map<string, PrincipalRef>();
  for (const [name, user] of model.directory.users) byName.set(principalKey('user', name), { kind: 'user', name, id: user.id });
  for (const [name, service] of model.directory.services) byName.set(principalKey('service', name), { kind: 'service', name, id: service.id });
  for (const principal of byName.values()) snapshot.principals.set(principal.id, principal);

  for (const [name, account] of model.catalog.accounts) {
    snapshot.accounts.set(name, new Map([...account.models.values()].map((m) => [m.name, m.enabled])));
  }

  for (const [alias, fqn] of Object.entries(model.gateway.aliases ?? {})) snapshot.aliases.set(alias, fqn);

  const now = options.now.getTime();
  for (const rule of model.rules) {
    if (rule.expires !== undefined && Date.parse(rule.expires) <= now) continue;
    const principals = [...rule.users.map((u) => byName.get(principalKey('user', u))), ...rule.services.map((s) => byName.get(principalKey('service', s)))];
    for (const principal of principals) {
      if (principal === undefined) continue;
      for (const fqn of rule.models) addGrant(snapshot.grants, principal, fqn, rule.source, rule.expires);
    }
  }

  for (const key of model.keys) {
    const state: KeyState = { id: key.record.id, principal: principalText(key.kind, key.name), revoked: key.record.revoked === true };
    if (key.record.expires !== undefined) state.expires = new Date(Date.parse(key.record.expires)).toISOString();
    snapshot.keys.set(state.id, state);
  }

  snapshot.broadRules = broadRules(set, model, options.largeTeam);
  snapshot.limits = limitStates(model);
  snapshot.prices = priceStates(model);
  return snapshot;
}

function addGrant(grants: Map<string, Grant>, principal: PrincipalRef, model: string, source: string, expires: string | undefined): void {
  const key = grantKey(principal.id, model);
  const existing = grants.get(key);
  if (existing === undefined) {
    const grant: Grant = { principal, model, sources: [source] };
    if (expires !== undefined) grant.expires = expires;
    grants.set(key, grant);
    return;
  }
  existing.sources.push(source);
  if (expires === undefined) delete existing.expires;
  else if (existing.expires !== undefined && Date.parse(expires) > Date.parse(existing.expires)) existing.expires = expires;
}

// Rules are resolved in document order (compile.ts), so the n-th authz rule of the set is model.rules[n].
function broadRules(set: PolicySet, model: PolicyModel, largeTeam: number): BroadRule[] {
  const found: BroadRule[] = [];
  let n = 0;
  for (const doc of set.authz) {
    for (const rule of doc.data.authz_rules) {
      const source = model.rules[n++]?.source ?? doc.file;
      for (const pattern of rule.models) {
        const whole = wholeAccounts(pattern, model);
        if (whole.length > 0)
          found.push({ source, reason: `the glob "${pattern}" grants every model of ${whole.map((a) => `"${a}"`).join(', ')}, including models added later` });
      }
      for (const team of rule.teams ?? []) {
        const size = model.directory.teams.get(team)?.length ?? 0;
        if (size > largeTeam) found.push({ source, reason: `team "${team}" has ${size} members` });
      }
    }
  }
  return found;
}

function wholeAccounts(pattern: string, model: PolicyModel): string[] {
  if (!isGlob(pattern)) return [];
  const accounts: string[] = [];
  for (const [name, account] of model.catalog.accounts) {
    const fqns = [...account.models.values()].map((m) => m.fqn);
    if (fqns.length > 0 && fqns.every((fqn) => minimatch(fqn, pattern))) accounts.push(name);
  }
  return accounts;
}
