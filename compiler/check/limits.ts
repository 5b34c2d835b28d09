// Limits (limits/*.yaml): subjects and models resolved like authz rules (teams expanded to
// members, globs over the catalog), plus what only limits have: key subjects, at least one value,
// budgets that the models' prices can pay for, time zones, unique ids.
import type { LimitRule, LimitsFile } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic, type Position } from '../diagnostics/diagnostic.ts';
import { didYouMean, withSuggestion } from '../diagnostics/suggest.ts';
import type { JsonPath } from '../load/parse-yaml.ts';
import type { Doc } from '../load/policy-set.ts';
import type { DirectorySnapshot } from '../resolve/directory.ts';
import { checkBudget } from './limit-budget.ts';
import { contentLimitId, LIMIT_FIELDS, type LimitValues, limitValues } from './limit-id.ts';
import type { Catalog } from './providers.ts';
import { globExpander, type Report, resolveModels, resolvePrincipals, type Unloaded } from './rules.ts';

/** A limit after resolution: what it caps, for whom, and where it is written. */
export interface ResolvedLimit {
  /** Stable id: the limit's id, else a hash of its content (limit-id.ts). */
  id: string;
  /** file:line:col of the limit. */
  source: string;
  file: string;
  at: Position;
  per: 'each' | 'shared';
  /** Enabled model FQNs, in catalog order. */
  models: string[];
  /** Usernames, direct and through teams. */
  users: string[];
  /** Usernames the limit names directly. */
  namedUsers: string[];
  /** Teams the limit names (their members are in users). */
  teams: string[];
  services: string[];
  /** Key ids (each request made with one of these keys falls under the limit). */
  keys: string[];
  values: LimitValues;
  budget?: NonNullable<LimitRule['budget']>;
  description?: string;
}

/** Checks limits and resolves each to models and subjects. `keyIds` are the ids of keys/*.yaml. */
export function checkLimits(
  docs: readonly Doc<LimitsFile>[],
  catalog: Catalog,
  directory: DirectorySnapshot,
  keyIds: ReadonlySet<string>,
  unloaded: Unloaded,
): { limits: ResolvedLimit[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const limits: ResolvedLimit[] = [];
  const expand = globExpander(catalog);
  const position = new Map([...catalog.models.keys()].map((fqn, i) => [fqn, i]));
  const ids = new Map<string, { source: string; explicit: boolean }>();
  for (const doc of docs) {
    doc.data.limits.forEach((limit, i) => {
      const base: JsonPath = ['limits', i];
      const at = doc.locate(base);
      const source = `${doc.file}:${at.line}:${at.col}`;
      const report: Report = (code, path, message, hint) => {
        diagnostics.push(diagnostic(code, doc.file, doc.locate([...base, ...path]), message, hint));
      };
      const models = resolveModels(limit, catalog, position, expand, report, unloaded);
      const principals = resolvePrincipals(limit, directory, unloaded.directory ? () => {} : report);
      const keys = resolveKeys(limit, keyIds, report);
      const subjects = (limit.users?.length ?? 0) + (limit.teams?.length ?? 0) + (limit.services?.length ?? 0) + (limit.keys?.length ?? 0);
      if (subjects === 0) {
        diagnostics.push(
          diagnostic(
            'MG_LIMIT_NO_SUBJECTS',
            doc.file,
            at,
            'this limit names no user, team, service or key',
            'add users:, teams:, services: or keys:; a limit never applies to everyone',
          ),
        );
      }
      const values = limitValues(limit);
      if (Object.keys(values).length === 0 && limit.budget === undefined) {
        diagnostics.push(diagnostic('MG_LIMIT_NO_VALUE', doc.file, at, 'this limit sets no limit', `set at least one of ${LIMIT_FIELDS.join(', ')} or budget`));
      }
      if (models.enabled.length === 0 && models.disabled.length > 0) {
        diagnostics.push(diagnostic('MG_LIMIT_ONLY_DISABLED_MODELS', doc.file, at, 'every model this limit names is disabled, so it limits nothing'));
      }
      if (limit.budget !== undefined) checkBudget(limit.budget, models.enabled, catalog, report);
      const id = limit.id ?? contentLimitId(limit);
      const first = ids.get(id);
      if (first === undefined) ids.set(id, { source, explicit: limit.id !== undefined });
      else if (limit.id !== undefined)
        report('MG_DUPLICATE_LIMIT_ID', ['id'], `limit id "${id}" is already used by the limit at ${first.source}`, 'give each limit its own id');
      else
        diagnostics.push(
          diagnostic(
            'MG_DUPLICATE_LIMIT_ID',
            doc.file,
            at,
            `this limit repeats the limit at ${first.source} (same models, subjects and values, so the same id "${id}")`,
            'delete one of them, or give each an id: two copies would count every request twice',
          ),
        );
      const resolved: ResolvedLimit = {
        id,
        source,
        file: doc.file,
        at,
        per: limit.per ?? 'each',
        models: models.enabled,
        users: principals.users,
        namedUsers: [...new Set(limit.users ?? [])].filter((u) => directory.users.has(u)).sort(),
        teams: [...new Set(limit.teams ?? [])].filter((t) => directory.teams.has(t)).sort(),
        services: principals.services,
        keys,
        values,
      };
      if (limit.budget !== undefined) resolved.budget = limit.budget;
      if (limit.description !== undefined) resolved.description = limit.description;
      limits.push(resolved);
    });
  }
  return { limits, diagnostics };
}

function resolveKeys(limit: LimitRule, keyIds: ReadonlySet<string>, report: Report): string[] {
  const found = new Set<string>();
  (limit.keys ?? []).forEach((id, j) => {
    if (keyIds.has(id)) found.add(id);
    else
      report(
        'MG_LIMIT_UNKNOWN_KEY',
        ['keys', j],
        withSuggestion(`key "${id}" has no record in keys/`, didYouMean(id, keyIds)),
        'name a key by its id (the file name in keys/, also shown by `modelgate keys list`)',
      );
  });
  return [...found].sort();
}
