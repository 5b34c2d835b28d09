// The access diff between two snapshots: grants gained and lost (by stable id, so a rename is not a
// revoke plus a grant), keys, accounts and models, identities, and broad grants this change adds.

import { parsePrincipalKey } from '../resolve/principal.ts';
import type { AccessSnapshot, BroadRule, Grant, KeyState, PrincipalRef } from './access-snapshot.ts';
import { type AliasChange, diffAliases } from './diff-aliases.ts';
import { diffLimits, diffPrices, type LimitChange, type PriceChange } from './diff-limits.ts';

export interface GrantChange {
  principal: PrincipalRef;
  model: string;
  sources: string[];
  expires?: string;
}

export interface KeyChange {
  id: string;
  principal: string;
  change: 'added' | 'removed' | 'revoked' | 'unrevoked' | 'expiring' | 'expiry-changed';
  expires?: string;
}

export interface CatalogChange {
  account: string;
  model?: string;
  change: 'added' | 'removed' | 'disabled' | 'enabled';
  /** An added model that is declared disabled. */
  disabled?: true;
}

export interface IdentityChange {
  kind: 'user' | 'service';
  change: 'added' | 'removed' | 'renamed' | 'repinned';
  id: string;
  name: string;
  /** For renamed: the old name; for repinned: the old id. */
  previous?: string;
}

export interface PlanDiff {
  base: string;
  head: string;
  gained: GrantChange[];
  lost: GrantChange[];
  /** Grants kept whose expiry moved (or appeared, or went away). */
  expiryChanged: (GrantChange & { previousExpires?: string })[];
  /** Distinct principals whose access changes. */
  principals: number;
  keys: KeyChange[];
  catalog: CatalogChange[];
  aliases: AliasChange[];
  identities: IdentityChange[];
  /** Limits added, removed or changed (by id). */
  limits: LimitChange[];
  /** Model prices set, changed or removed. */
  prices: PriceChange[];
  warnings: BroadRule[];
  /** Diagnostics of the head a reviewer should see (MG_KEY_NO_EXPIRY). */
  diagnostics: AccessSnapshot['warnings'];
  /** Errors in the head revision (the plan of a broken head is incomplete). */
  errors: AccessSnapshot['errors'];
  /** Errors in the base revision: its access is unknown, so every head grant shows as gained. */
  baseErrors: number;
}

export interface DiffOptions {
  now: Date;
  /** Keys expiring within this many milliseconds of now are listed. */
  expiringWithinMs: number;
}

/** What changes from base to head: grants, keys, catalog, identities, broad grants. */
export function diffAccess(base: AccessSnapshot, head: AccessSnapshot, options: DiffOptions): PlanDiff {
  const gained: GrantChange[] = [];
  const lost: GrantChange[] = [];
  const expiryChanged: PlanDiff['expiryChanged'] = [];
  for (const [key, grant] of head.grants) {
    const before = base.grants.get(key);
    if (before === undefined) gained.push(change(grant));
    else if (before.expires !== grant.expires)
      expiryChanged.push({ ...change(grant), ...(before.expires === undefined ? {} : { previousExpires: before.expires }) });
  }
  // A principal that disappeared loses under its old name; one that stays is shown under its new one.
  for (const [key, grant] of base.grants) {
    if (!head.grants.has(key)) lost.push(change({ ...grant, principal: head.principals.get(grant.principal.id) ?? grant.principal }));
  }
  const touched = new Set([...gained, ...lost].map((g) => g.principal.id));

  // Broad rules are flagged only when they grant something new: an unchanged broad rule is old news.
  const gainedSources = new Set(gained.flatMap((g) => g.sources));
  const warnings = head.broadRules.filter((rule) => gainedSources.has(rule.source));

  return {
    base: base.revision,
    head: head.revision,
    gained: sortGrants(gained),
    lost: sortGrants(lost),
    expiryChanged: sortGrants(expiryChanged),
    principals: touched.size,
    keys: diffKeys(base.keys, head.keys, options),
    catalog: diffCatalog(base.accounts, head.accounts),
    aliases: diffAliases(base.aliases, head.aliases),
    identities: diffIdentities(base, head),
    limits: diffLimits(base.limits, head.limits),
    prices: diffPrices(base.prices, head.prices),
    warnings,
    diagnostics: head.warnings,
    errors: head.errors,
    baseErrors: base.errors.length,
  };
}

function change(grant: Grant): GrantChange {
  const out: GrantChange = { principal: grant.principal, model: grant.model, sources: [...grant.sources] };
  if (grant.expires !== undefined) out.expires = grant.expires;
  return out;
}

function sortGrants<T extends GrantChange>(grants: T[]): T[] {
  return grants.sort((a, b) => cmp(a.model, b.model) || cmp(a.principal.kind, b.principal.kind) || cmp(a.principal.name, b.principal.name));
}

function diffKeys(base: Map<string, KeyState>, head: Map<string, KeyState>, options: DiffOptions): KeyChange[] {
  const changes: KeyChange[] = [];
  const now = options.now.getTime();
  const entry = (key: KeyState, kind: KeyChange['change']): KeyChange => ({
    id: key.id,
    principal: key.principal,
    change: kind,
    ...(key.expires === undefined ? {} : { expires: key.expires }),
  });
  for (const [id, key] of head) {
    const before = base.get(id);
    if (before === undefined) changes.push(entry(key, key.revoked ? 'revoked' : 'added'));
    else if (key.revoked && !before.revoked) changes.push(entry(key, 'revoked'));
    else if (!key.revoked && before.revoked) changes.push(entry(key, 'unrevoked'));
    else if (key.expires !== before.expires) changes.push(entry(key, 'expiry-changed'));
    // Independent of this change: a live key close to its expiry is worth a line in every plan.
    if (!key.revoked && key.expires !== undefined) {
      const left = Date.parse(key.expires) - now;
      if (left > 0 && left <= options.expiringWithinMs) changes.push(entry(key, 'expiring'));
    }
  }
  for (const [id, key] of base) if (!head.has(id)) changes.push(entry(key, 'removed'));
  return changes.sort((a, b) => cmp(a.change, b.change) || cmp(a.id, b.id));
}

function diffCatalog(base: Map<string, Map<string, boolean>>, head: Map<string, Map<string, boolean>>): CatalogChange[] {
  const changes: CatalogChange[] = [];
  for (const [account, models] of head) {
    const before = base.get(account);
    if (before === undefined) changes.push({ account, change: 'added' });
    for (const [model, enabled] of models) {
      const was = before?.get(model);
      if (was === undefined) changes.push({ account, model, change: 'added', ...(enabled ? {} : { disabled: true }) });
      else if (was && !enabled) changes.push({ account, model, change: 'disabled' });
      else if (!was && enabled) changes.push({ account, model, change: 'enabled' });
    }
    for (const model of before?.keys() ?? []) if (!models.has(model)) changes.push({ account, model, change: 'removed' });
  }
  for (const account of base.keys()) if (!head.has(account)) changes.push({ account, change: 'removed' });
  return changes.sort((a, b) => cmp(a.account, b.account) || cmp(a.model ?? '', b.model ?? ''));
}

function diffIdentities(base: AccessSnapshot, head: AccessSnapshot): IdentityChange[] {
  const changes: IdentityChange[] = [];
  for (const [id, principal] of head.principals) {
    const before = base.principals.get(id);
    if (before === undefined) {
      if (base.errors.length === 0) changes.push({ kind: principal.kind, change: 'added', id, name: principal.name });
    } else if (before.name !== principal.name) changes.push({ kind: principal.kind, change: 'renamed', id, name: principal.name, previous: before.name });
  }
  if (head.errors.length === 0) {
    for (const [id, principal] of base.principals)
      if (!head.principals.has(id)) changes.push({ kind: principal.kind, change: 'removed', id, name: principal.name });
  }
  // A pin that moved is a name now meaning someone else: the most important line of a plan.
  for (const [name, id] of head.pins) {
    const before = base.pins.get(name);
    if (before !== undefined && before !== id) {
      const [kind, bare] = splitPin(name);
      changes.push({ kind, change: 'repinned', id, name: bare, previous: before });
    }
  }
  return changes.sort((a, b) => cmp(a.change, b.change) || cmp(a.name, b.name));
}

function splitPin(pin: string): ['user' | 'service', string] {
  const { kind, name } = parsePrincipalKey(pin);
  return [kind, name];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
