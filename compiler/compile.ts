// The pure compiler core: policy documents + a directory snapshot in, a policy model (or
// diagnostics) out. No file system, git, network or clock: the caller passes `now`.
import type { GatewayFile, IdentityLock } from '../schemas/types.generated.ts';
import { checkAliases } from './check/aliases.ts';
import { checkConfusables, type NamedThing } from './check/confusables.ts';
import { checkGateway } from './check/gateway.ts';
import { checkKeys, type ResolvedKey } from './check/keys.ts';
import { checkLimits, type ResolvedLimit } from './check/limits.ts';
import { type Catalog, checkProviders } from './check/providers.ts';
import { checkRules, type ResolvedRule } from './check/rules.ts';
import { type Diagnostic, hasErrors, sortDiagnostics } from './diagnostics/diagnostic.ts';
import type { PolicySet } from './load/policy-set.ts';
import type { DirectorySnapshot, NameRequest } from './resolve/directory.ts';
import { checkLock } from './resolve/lock.ts';
import { parsePrincipal } from './resolve/principal.ts';

/** Everything a bundle is built from, after every check passed. */
export interface PolicyModel {
  gateway: GatewayFile;
  catalog: Catalog;
  rules: ResolvedRule[];
  directory: DirectorySnapshot;
  keys: ResolvedKey[];
  /** Limits in document order (limits/*.yaml sorted by path). */
  limits: ResolvedLimit[];
}

export interface AnalyzeOptions {
  now: Date;
  /** Unpinned resolutions are errors instead of being added to the lock (CI mode). */
  frozenLock?: boolean;
}

export interface Analysis {
  /** Sorted by file, line, column. */
  diagnostics: Diagnostic[];
  /** Null when there is any error. */
  model: PolicyModel | null;
  /** The identity lock including new pins; write it back when lockChanged. */
  lock: IdentityLock;
  lockChanged: boolean;
}

/** Runs every semantic check over a loaded policy set. */
export function analyze(set: PolicySet, directory: DirectorySnapshot, loadDiagnostics: readonly Diagnostic[], options: AnalyzeOptions): Analysis {
  const providers = checkProviders(set.providers);
  const rules = checkRules(set.authz, providers.catalog, directory, options.now, set.unloaded);
  const keys = checkKeys(set.keys, directory, options.now, set.unloaded.directory);
  const limits = checkLimits(set.limits, providers.catalog, directory, new Set(set.keys.map((k) => k.data.id)), set.unloaded);
  const lock = checkLock(directory, set.lock, options.frozenLock === true);
  const confusables = checkConfusables(namedThings(set, directory));
  const gateway = checkGateway(set.gateway);
  const aliases = checkAliases(set.gateway, providers.catalog);
  const diagnostics = sortDiagnostics([
    ...loadDiagnostics,
    ...providers.diagnostics,
    ...rules.diagnostics,
    ...keys.diagnostics,
    ...limits.diagnostics,
    ...lock.diagnostics,
    ...confusables,
    ...gateway,
    ...aliases,
  ]);
  const model: PolicyModel | null =
    hasErrors(diagnostics) || set.gateway === null
      ? null
      : { gateway: set.gateway.data, catalog: providers.catalog, rules: rules.rules, directory, keys: keys.keys, limits: limits.limits };
  return { diagnostics, model, lock: lock.lock, lockChanged: lock.changed };
}

/** The names the policy mentions, for directories that resolve on demand (GitHub). */
export function requestedNames(set: PolicySet): NameRequest {
  const users = new Set<string>();
  const teams = new Set<string>();
  const services = new Set<string>();
  for (const doc of set.authz) {
    for (const rule of doc.data.authz_rules) {
      rule.users?.forEach((u) => {
        users.add(u);
      });
      rule.teams?.forEach((t) => {
        teams.add(t);
      });
      rule.services?.forEach((s) => {
        services.add(s);
      });
    }
  }
  for (const doc of set.limits) {
    for (const limit of doc.data.limits) {
      limit.users?.forEach((u) => {
        users.add(u);
      });
      limit.teams?.forEach((t) => {
        teams.add(t);
      });
      limit.services?.forEach((s) => {
        services.add(s);
      });
    }
  }
  for (const doc of set.keys) {
    const { kind, name } = parsePrincipal(doc.data.principal);
    (kind === 'user' ? users : services).add(name);
  }
  return { users, teams, services };
}

function namedThings(set: PolicySet, directory: DirectorySnapshot): NamedThing[] {
  const things: NamedThing[] = [];
  const add = (kind: 'user' | 'team' | 'service', name: string): void => {
    things.push({ kind, name, locate: () => directory.definedAt(kind, name) ?? { file: 'directory.yaml', at: { line: 1, col: 1 } } });
  };
  for (const name of directory.users.keys()) add('user', name);
  for (const name of directory.teams.keys()) add('team', name);
  for (const name of directory.services.keys()) add('service', name);
  for (const doc of set.providers) {
    things.push({ kind: 'account', name: doc.data.name, locate: () => ({ file: doc.file, at: doc.locate(['name']) }) });
    doc.data.models.forEach((m, i) => {
      things.push({ kind: `model of ${doc.data.name}`, name: m.name, locate: () => ({ file: doc.file, at: doc.locate(['models', i, 'name']) }) });
    });
  }
  return things;
}
