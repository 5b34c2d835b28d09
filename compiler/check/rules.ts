// Authz rules: model references and globs expanded over the catalog, principals resolved
// through the directory, teams expanded to members.
import { Minimatch } from 'minimatch';
import type { AuthzFile, AuthzRule } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic, type Position } from '../diagnostics/diagnostic.ts';
import { didYouMean, withSuggestion } from '../diagnostics/suggest.ts';
import type { JsonPath } from '../load/parse-yaml.ts';
import type { Doc } from '../load/policy-set.ts';
import type { DirectorySnapshot } from '../resolve/directory.ts';
import { bundleInstant, UNREPRESENTABLE_HINT } from './instant.ts';
import { isGlob } from './model-glob.ts';
import type { Catalog } from './providers.ts';
import { contentRuleId } from './rule-id.ts';

/** A rule after resolution: what it grants, to whom, until when, and where it is written. */
export interface ResolvedRule {
  /** file:line:col of the rule, kept in the bundle for audit. */
  source: string;
  /** Stable id: the rule's id, else a hash of its content (rule-id.ts). */
  id: string;
  /** Teams the rule names (their members are in users). */
  teams: string[];
  /** Usernames the rule names directly. */
  namedUsers: string[];
  file: string;
  at: Position;
  expires?: string;
  description?: string;
  /** Enabled model FQNs, in catalog order. */
  models: string[];
  /** Disabled model FQNs the rule names or matches (granted to nobody). */
  disabledModels: string[];
  /** Usernames, direct and through teams. */
  users: string[];
  services: string[];
}

/** Sources that failed to load; references to them are not reported again. */
export interface Unloaded {
  accounts: ReadonlySet<string>;
  directory: boolean;
}
const NOTHING_UNLOADED: Unloaded = { accounts: new Set(), directory: false };

/** Checks authz rules and resolves each to models and principals. */
export function checkRules(
  docs: readonly Doc<AuthzFile>[],
  catalog: Catalog,
  directory: DirectorySnapshot,
  now: Date,
  unloaded: Unloaded = NOTHING_UNLOADED,
): { rules: ResolvedRule[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const rules: ResolvedRule[] = [];
  const expand = globExpander(catalog);
  const position = new Map([...catalog.models.keys()].map((fqn, i) => [fqn, i]));
  const explicitIds = new Map<string, string>();
  for (const doc of docs) {
    doc.data.authz_rules.forEach((rule, i) => {
      const base: JsonPath = ['authz_rules', i];
      const at = doc.locate(base);
      const report = (code: Parameters<typeof diagnostic>[0], path: JsonPath, message: string, hint?: string): void => {
        diagnostics.push(diagnostic(code, doc.file, doc.locate([...base, ...path]), message, hint));
      };
      const models = resolveModels(rule, catalog, position, expand, report, unloaded);
      const principals = resolvePrincipals(rule, directory, unloaded.directory ? () => {} : report);
      if ((rule.users?.length ?? 0) + (rule.teams?.length ?? 0) + (rule.services?.length ?? 0) === 0) {
        diagnostics.push(
          diagnostic(
            'MG_RULE_NO_PRINCIPALS',
            doc.file,
            at,
            'this rule names no user, team or service',
            'add users:, teams: or services:; a rule never applies to everyone',
          ),
        );
      }
      if (models.enabled.length === 0 && models.disabled.length > 0) {
        diagnostics.push(diagnostic('MG_RULE_ONLY_DISABLED_MODELS', doc.file, at, 'every model this rule grants is disabled, so it grants nothing'));
      }
      const expires = rule.expires === undefined ? undefined : bundleInstant(rule.expires);
      if (expires === null) {
        report(
          'MG_SCHEMA_INVALID_VALUE',
          ['expires'],
          '"expires" is not an instant a bundle can hold (a leap second, or past year 9999)',
          UNREPRESENTABLE_HINT,
        );
      } else if (
        // Stryker disable next-line ConditionalExpression: equivalent, Date.parse(undefined) is NaN and NaN <= now is false
        expires !== undefined &&
        Date.parse(expires) <= now.getTime()
      ) {
        report(
          'MG_RULE_EXPIRED',
          ['expires'],
          `this rule expired at ${rule.expires} and grants nothing`,
          'delete it, or extend expires if the access is still needed',
        );
      }
      const source = `${doc.file}:${at.line}:${at.col}`;
      if (rule.id !== undefined) {
        const first = explicitIds.get(rule.id);
        if (first === undefined) explicitIds.set(rule.id, source);
        else report('MG_DUPLICATE_RULE_ID', ['id'], `rule id "${rule.id}" is already used by the rule at ${first}`, 'give each rule its own id');
      }
      const resolved: ResolvedRule = {
        source,
        id: rule.id ?? contentRuleId(rule),
        // Every name is in the directory here: an unknown one is an error, and no model is built then.
        teams: [...new Set(rule.teams ?? [])],
        namedUsers: [...new Set(rule.users ?? [])],
        file: doc.file,
        at,
        models: models.enabled,
        disabledModels: models.disabled,
        users: principals.users,
        services: principals.services,
      };
      if (typeof expires === 'string') resolved.expires = expires;
      if (rule.description !== undefined) resolved.description = rule.description;
      rules.push(resolved);
    });
  }
  return { rules, diagnostics };
}

export type Report = (code: Parameters<typeof diagnostic>[0], path: JsonPath, message: string, hint?: string) => void;

/** The models a rule or limit names: enabled and disabled FQNs in catalog order (unknown ones reported). */
export function resolveModels(
  rule: Pick<AuthzRule, 'models'>,
  catalog: Catalog,
  position: ReadonlyMap<string, number>,
  expand: (pattern: string) => string[],
  report: Report,
  unloaded: Unloaded,
): { enabled: string[]; disabled: string[] } {
  const matched = new Set<string>();
  rule.models.forEach((ref, j) => {
    const path: JsonPath = ['models', j];
    if (isGlob(ref)) {
      const hits = expand(ref);
      if (hits.length === 0 && unloaded.accounts.size === 0)
        report(
          'MG_GLOB_MATCHES_NOTHING',
          path,
          `the glob "${ref}" matches no declared model`,
          'globs match account/model names, like "azure-prod/*" or "openai-main/gpt-4o*"',
        );
      for (const fqn of hits) matched.add(fqn);
      return;
    }
    const slash = ref.indexOf('/');
    if (slash <= 0 || slash === ref.length - 1) {
      const guess = didYouMean(ref, [...catalog.models.keys()]) ?? [...catalog.models.keys()].find((fqn) => fqn.endsWith(`/${ref}`));
      report('MG_INVALID_MODEL_REF', path, withSuggestion(`"${ref}" is not a fully qualified model name (account/model)`, guess));
      return;
    }
    const accountName = ref.slice(0, slash);
    const account = catalog.accounts.get(accountName);
    if (account === undefined && unloaded.accounts.has(accountName)) return;
    if (account === undefined) {
      report(
        'MG_UNKNOWN_ACCOUNT',
        path,
        withSuggestion(`provider account "${accountName}" is not declared`, didYouMean(accountName, catalog.accounts.keys())),
        'accounts are declared in providers/<name>.yaml',
      );
      return;
    }
    const modelName = ref.slice(slash + 1);
    const model = account.models.get(modelName);
    if (model === undefined) {
      report(
        'MG_UNKNOWN_MODEL',
        path,
        withSuggestion(`account "${accountName}" does not declare model "${modelName}"`, didYouMean(modelName, account.models.keys())),
        `declare it under models: in ${account.doc.file}`,
      );
      return;
    }
    if (!model.enabled) report('MG_MODEL_DISABLED', path, `model "${ref}" is disabled, so nobody may use it`);
    matched.add(model.fqn);
  });
  const enabled: string[] = [];
  const disabled: string[] = [];
  // Catalog order by sorting the few matches, not by scanning every model for every rule
  // (10k rules x 2k models was a quarter of the check time in the compile benchmark).
  // Every matched name comes from the catalog, so each has a position.
  const ordered = [...matched].sort((a, b) => position.get(a)! - position.get(b)!);
  for (const fqn of ordered) (catalog.models.get(fqn)!.enabled ? enabled : disabled).push(fqn);
  return { enabled, disabled };
}

/** The users (direct and through teams) and services a rule or limit names (unknown ones reported). */
export function resolvePrincipals(
  rule: Pick<AuthzRule, 'users' | 'teams' | 'services'>,
  directory: DirectorySnapshot,
  report: Report,
): { users: string[]; services: string[] } {
  const users = new Set<string>();
  const services = new Set<string>();
  const unknown = (kind: 'user' | 'team' | 'service', code: Parameters<typeof diagnostic>[0], path: JsonPath, name: string, known: Iterable<string>): void => {
    const why = directory.explainMissing?.(kind, name);
    report(why?.code ?? code, path, withSuggestion(`${kind} "${name}" ${why?.reason ?? 'is not in the directory'}`, didYouMean(name, known)), why?.hint);
  };
  (rule.users ?? []).forEach((name, j) => {
    if (directory.users.has(name)) users.add(name);
    else unknown('user', 'MG_UNKNOWN_USER', ['users', j], name, directory.users.keys());
  });
  (rule.teams ?? []).forEach((name, j) => {
    const members = directory.teams.get(name);
    if (members === undefined) unknown('team', 'MG_UNKNOWN_TEAM', ['teams', j], name, directory.teams.keys());
    else for (const member of members) users.add(member);
  });
  (rule.services ?? []).forEach((name, j) => {
    if (directory.services.has(name)) services.add(name);
    else unknown('service', 'MG_UNKNOWN_SERVICE', ['services', j], name, directory.services.keys());
  });
  return { users: [...users].sort(), services: [...services].sort() };
}

// Patterns of the form "account/<glob>" only look at that account's models, which keeps
// expansion linear in rules x models-per-account instead of rules x all models.
export function globExpander(catalog: Catalog): (pattern: string) => string[] {
  const cache = new Map<string, string[]>();
  return (pattern) => {
    const cached = cache.get(pattern);
    // Stryker disable next-line all: equivalent, the cache is an optimisation (a pattern expands to the same hits each time)
    if (cached !== undefined) return cached;
    const matcher = new Minimatch(pattern, { nonegate: true, nocomment: true });
    const slash = pattern.indexOf('/');
    const accountPart = slash > 0 ? pattern.slice(0, slash) : '';
    const account = accountPart !== '' && !isGlob(accountPart) ? catalog.accounts.get(accountPart) : undefined;
    const candidates =
      account !== undefined ? [...account.models.values()].map((m) => m.fqn) : accountPart !== '' && !isGlob(accountPart) ? [] : [...catalog.models.keys()];
    const hits = candidates.filter((fqn) => matcher.match(fqn));
    cache.set(pattern, hits);
    return hits;
  };
}
